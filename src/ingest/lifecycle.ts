/**
 * What ingestion must know about a digest's last chain to apply the lifecycle rules:
 *
 * - one *running* chain per digest (Temporal's workflow id conflict policy does that);
 * - a *failed* chain (not blocked) runs again on the next push, reconcile or `dchain chain retry`,
 *   after a backoff that doubles with each failure, and not after `maxRuns` failures in a row;
 * - a *blocked* chain stays blocked until its verdict changes (a rescan, an override);
 * - a *delivered* chain gets new tags through the short tag-delivery path, without a rescan.
 *
 * The chain records its own end here (an activity), so the API can decide on a re-push without
 * asking Temporal. The record lives as long as the digest's deduplication mark.
 */
import { type Redis } from 'ioredis';
import { z } from 'zod';
import { luaScriptFile, runLuaScript } from '../redis';
import { stableHash } from './stable-hash';

export type ChainOutcome = 'delivered' | 'blocked' | 'failed';
export const chainOutcomeSchema = z.enum(['delivered', 'blocked', 'failed']);

export interface ChainRecord {
  outcome: ChainOutcome;
  /** Failed runs in a row (0 once a run delivered or was blocked). */
  failures: number;
  /** When the last run ended (ms since the epoch). */
  endedAt: number;
}

export interface RetrySettings {
  /** Delay before the first re-run of a failed chain; doubles with each failure in a row. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Failed runs in a row after which a push no longer starts the chain again (`dchain chain retry --force` does). */
  maxRuns: number;
}

export const LIFECYCLE_KEY_PREFIX = 'dchain:chain:';

export function lifecycleKey(workflowId: string): string {
  return `${LIFECYCLE_KEY_PREFIX}${stableHash(workflowId)}`;
}

/** Parses the HGETALL of a lifecycle key (or the fields the queue's check script returns). */
export function parseChainRecord(fields: Record<string, string> | undefined): ChainRecord | undefined {
  if (!fields) return undefined;
  const outcome = chainOutcomeSchema.safeParse(fields.outcome);
  if (!outcome.success) return undefined;
  return { outcome: outcome.data, failures: Number(fields.failures ?? 0) || 0, endedAt: Number(fields.endedAt ?? 0) || 0 };
}

/** When a failed chain may run again (ms since the epoch), or undefined when it has failed `maxRuns` times in a row. */
export function retryAt(record: ChainRecord, settings: RetrySettings): number | undefined {
  if (record.outcome !== 'failed') return undefined;
  if (record.failures >= settings.maxRuns) return undefined;
  const delay = Math.min(settings.backoffMs * 2 ** Math.max(0, record.failures - 1), settings.maxBackoffMs);
  return record.endedAt + delay;
}

const RECORD = luaScriptFile(__dirname, 'lifecycle-record.lua');

/** The lifecycle records of chains, in Redis. */
export class ChainLifecycleStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlMs: number,
  ) {}

  /**
   * Records how a run of `workflowId` ended. Idempotent per run (checked in the script): a retried
   * activity of the same run does not count its failure twice.
   */
  async record(workflowId: string, runId: string, outcome: ChainOutcome, now = Date.now()): Promise<ChainRecord> {
    const failures = Number(await runLuaScript(this.redis, RECORD, [lifecycleKey(workflowId)], [outcome, String(now), String(this.ttlMs), runId]));
    return { outcome, failures, endedAt: now };
  }

  async get(workflowId: string): Promise<ChainRecord | undefined> {
    const fields = await this.redis.hgetall(lifecycleKey(workflowId));
    return Object.keys(fields).length === 0 ? undefined : parseChainRecord(fields);
  }
}
