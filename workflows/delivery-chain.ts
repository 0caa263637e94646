/**
 * deliveryChain: one durable run per image digest — build → scan → gate → sign → sync → distribute.
 * Deterministic orchestration only: every effect is an activity (activities/), every stage result
 * is kept for the `status` query, and search attributes let ops filter runs in the Temporal UI.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  defineQuery,
  defineSignal,
  log,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ChainActivities } from '../activities';
import { DcDigest, DcRepository, DcStage, DcTags, DcVerdict } from './search-attributes';

export interface ChainInput {
  /** Configured registry name the image was pushed to. */
  registry: string;
  repository: string;
  digest: string;
  tags: string[];
  mediaType?: string;
  pushedAt: string;
  /** Webhook source (or 'reconcile', 'cli'). */
  source: string;
  deliveryId?: string;
}

export type StageName = 'build' | 'scan' | 'gate' | 'sign' | 'sync' | 'distribute';
export type ChainStage = StageName | 'done' | 'blocked' | 'failed';

export interface BreakGlass {
  actor: string;
  reason: string;
}

export interface ChainStatus {
  stage: ChainStage;
  tags: string[];
  results: Partial<Record<StageName, unknown>>;
  override?: BreakGlass;
}

export const addTagsSignal = defineSignal<[{ tags: string[] }]>('addTags');
export const breakGlassSignal = defineSignal<[BreakGlass]>('breakGlass');
export const statusQuery = defineQuery<ChainStatus>('status');

const RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 8 } as const;

const registry = proxyActivities<ChainActivities>({ startToCloseTimeout: '2m', retry: RETRY });
const distribute = proxyActivities<ChainActivities>({ startToCloseTimeout: '1m', retry: { ...RETRY, maximumAttempts: 12 } });

export async function deliveryChain(input: ChainInput): Promise<ChainStatus> {
  const status: ChainStatus = { stage: 'build', tags: [...new Set(input.tags)], results: {} };
  setHandler(statusQuery, () => status);
  setHandler(addTagsSignal, ({ tags }) => {
    status.tags = [...new Set([...status.tags, ...tags])];
    upsertSearchAttributes([{ key: DcTags, value: status.tags }]);
  });
  setHandler(breakGlassSignal, (override) => {
    status.override = override;
  });
  upsertSearchAttributes([
    { key: DcRepository, value: `${input.registry}/${input.repository}` },
    { key: DcDigest, value: input.digest },
    { key: DcTags, value: status.tags },
  ]);
  const image = { registry: input.registry, repository: input.repository, digest: input.digest };

  const enter = (stage: ChainStage) => {
    status.stage = stage;
    upsertSearchAttributes([{ key: DcStage, value: stage }]);
  };

  try {
    enter('build');
    status.results.build = await registry.recordPushedImage(image);

    enter('distribute');
    // The run's start time expands `{date}` in promotion tags the same way on every retry and replay.
    const promotions = await distribute.promoteImage({ ...image, at: workflowInfo().runStartTime.toISOString() });
    const notifications = await distribute.notifySubscribers({ ...image, event: 'distributed', payload: { tags: status.tags, promotions } });
    status.results.distribute = { promotions, notifications };

    enter('done');
    upsertSearchAttributes([{ key: DcVerdict, value: status.override ? 'overridden' : 'allowed' }]);
    upsertMemo({ summary: `${input.repository}@${input.digest}: distributed` });
    return status;
  } catch (err) {
    if (status.stage !== 'blocked') enter('failed');
    log.error('chain failed', { stage: status.stage, error: describe(err) });
    throw err;
  }
}

function describe(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return `${err.cause.type ?? 'Error'}: ${err.cause.message}`;
  return err instanceof Error ? err.message : String(err);
}
