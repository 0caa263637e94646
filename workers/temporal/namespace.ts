/**
 * What a Temporal cluster needs before the chain can run on it: the namespace, and the chain's
 * search attributes registered in it (the dev server gets both from its command line; a real
 * cluster gets them through the operator API, once, idempotently).
 */
import { type ConnectionLike, isGrpcServiceError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { ChainError } from '../../src/errors';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/chain';

/** temporal.api.enums.v1.IndexedValueType, for the types SEARCH_ATTRIBUTE_TYPES uses. */
const INDEXED_VALUE_TYPE: Record<(typeof SEARCH_ATTRIBUTE_TYPES)[keyof typeof SEARCH_ATTRIBUTE_TYPES], number> = {
  Keyword: 2,
  Int: 3,
  KeywordList: 7,
};

const ALREADY_EXISTS = 6;

/** A client connection's services (a Connection, or a Client's `connection`). */
type Services = Pick<ConnectionLike, 'workflowService' | 'operatorService'>;

export async function ensureNamespace(connection: Services, namespace: string, retentionDays = 3): Promise<void> {
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs(retentionDays * 24 * 3600 * 1000),
      description: 'delivery-chain',
    });
  } catch (err) {
    if (!(isGrpcServiceError(err) && err.code === ALREADY_EXISTS)) {
      throw new ChainError('SERVICE_START_FAILED', `cannot register the Temporal namespace ${namespace}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** Registers the chain's search attributes that the namespace lacks; a type clash is an error that names it. */
export async function ensureSearchAttributes(connection: Services, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const custom = existing.customAttributes ?? {};
  const missing: Record<string, number> = {};
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_TYPES)) {
    const want = INDEXED_VALUE_TYPE[type];
    const have = custom[name];
    if (have === undefined || have === null) missing[name] = want;
    else if (Number(have) !== want) {
      throw new ChainError('CONFIG_INVALID', `search attribute ${name} exists in namespace ${namespace} with another type (${String(have)}, want ${type})`);
    }
  }
  if (Object.keys(missing).length > 0) await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  return Object.keys(missing);
}
