import { Queue, type JobsOptions } from 'bullmq';
import { type Redis } from 'ioredis';
import { z } from 'zod';
import { type Config, durationMs } from '../config';
import { ChainError } from '../errors';
import { buildChainWorkflowId, buildRequestSchema, chainWorkflowId, type ImagePushed, imagePushedSchema } from '../chain';
import { tagSchema } from '../registry';
import { stableHash } from './stable-hash';
import { luaScriptFile, runLuaScript } from '../redis';
import { lifecycleKey, parseChainRecord, retryAt, type RetrySettings } from './lifecycle';

export const INGEST_QUEUE_NAME = 'dchain-ingest';
export const DEAD_LETTER_QUEUE_NAME = 'dchain-ingest-dead';
const KEY_PREFIX = 'dchain:ingest';

/** A queued registry event: start the chain of `input` (or join it) and make sure it has `tags`. */
export const imageJobSchema = z.strictObject({
  input: imagePushedSchema,
  /** Tags the running chain must get by signal (all of input.tags for a first push). */
  tags: z.array(tagSchema),
});
export type ImageJob = z.infer<typeof imageJobSchema>;

/** A queued Git push: start the source build's chain (one per repository and commit). */
export const buildJobSchema = z.strictObject({
  build: buildRequestSchema,
  pushedAt: z.iso.datetime({ offset: true }),
});
export type BuildJob = z.infer<typeof buildJobSchema>;

export const ingestJobSchema = z.union([imageJobSchema, buildJobSchema]);
export type IngestJob = z.infer<typeof ingestJobSchema>;

export const deadLetterSchema = z.strictObject({
  job: z.unknown(),
  reason: z.string(),
  attempts: z.number().int(),
  failedAt: z.string(),
  originalJobId: z.string(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;

/**
 * The deduplication check and marks of a whole batch, one script call each. KEYS come in triples
 * per event: its digest set, its delivery key ('' for events without a delivery id) and its chain's
 * lifecycle record (how its last run ended). The digest set always holds '' once seen, so an
 * untagged first push counts too.
 *
 * CHECK answers per event {1} (delivery seen) or {0, outcome, failures, endedAt, tags known for the
 * digest…} (outcome '' while no run has ended).
 * MARK takes KEYS in pairs (digest set, delivery key) and ARGV = ttl, then per event: n and n tags
 * to add to the digest set, or -1 to mark the delivery only.
 */
const DEDUP_CHECK = luaScriptFile(__dirname, 'dedup-check.lua');
const DEDUP_MARK = luaScriptFile(__dirname, 'dedup-mark.lua');

/** What happened to one accepted event at the API. */
export type SubmitOutcome =
  | 'queued'
  | 'tags-queued'
  /** The digest's last chain failed: a new run is queued (after its backoff). */
  | 'retry-queued'
  /** The digest's last chain failed `maxRuns` times in a row: no new run until `dchain chain retry --force`. */
  | 'retry-capped'
  | 'duplicate-delivery'
  | 'duplicate-digest';

/** Outcomes that queued a job. */
export function isQueued(outcome: SubmitOutcome): boolean {
  return outcome === 'queued' || outcome === 'tags-queued' || outcome === 'retry-queued';
}

export interface SubmitResult {
  workflowId: string;
  outcome: SubmitOutcome;
  jobId?: string;
}

export interface IngestQueueOptions {
  /** How long delivery ids and digests are remembered. */
  dedupTtlMs: number;
  /** Attempts of a job before it is dead-lettered. */
  attempts: number;
  /** Replicas that must hold a batch before `submit` resolves (Redis WAIT); 0 = the primary's AOF only. */
  replicaAcks?: number;
  /** When a failed chain runs again (default: the configuration's defaults, 1 min doubling to 1 h, 5 runs). */
  retry?: RetrySettings;
  now?: () => number;
}

const DEFAULT_RETRY: RetrySettings = { backoffMs: 60_000, maxBackoffMs: 3_600_000, maxRuns: 5 };

/** The configured lifecycle settings of failed chains. */
export function retrySettings(ingest: Config['ingest']): RetrySettings {
  return { backoffMs: durationMs(ingest.retryFailed.backoff), maxBackoffMs: durationMs(ingest.retryFailed.maxBackoff), maxRuns: ingest.retryFailed.maxRuns };
}

/** The backoff of a job's retries: 0.5 s doubling, at most `maxMs` (Temporal may be down for a while). */
export function cappedBackoff(maxMs: number): (attemptsMade: number) => number {
  return (attemptsMade) => Math.min(500 * 2 ** Math.max(0, attemptsMade - 1), maxMs);
}
export const BACKOFF_TYPE = 'capped';

/** Most events one group commit carries; more wait for the next. */
const MAX_BATCH = 256;
/** How long `submit` waits for the replicas (ingest.replicaAcks) before it gives up and the sender retries. */
const REPLICA_WAIT_MS = 1000;

interface PendingSubmit {
  event: ImagePushed;
  resolve: (result: SubmitResult) => void;
  reject: (err: unknown) => void;
}

/** What a batch decided for one event before anything was written. */
interface Decision {
  result: SubmitResult;
  digestKey: string;
  deliveryKey: string | undefined;
  job?: { name: IngestJobKind; data: ImageJob; opts: JobsOptions };
}

/**
 * What a job asks of the queue worker: `start` a chain (or join the running one), `add-tags` to it
 * (a delivered chain gets them by the tag-delivery path), `retry` a failed chain (a new run),
 * `unblock` a blocked chain whose verdict turned to allowed, `replay` a dead letter (as `start`).
 */
export type IngestJobKind = 'start' | 'add-tags' | 'retry' | 'unblock' | 'replay' | 'build';

/**
 * The durable buffer between the webhook API and Temporal. `submit` resolves only once the job is
 * in Redis (AOF); it rejects when Redis is unreachable, and the API answers 503.
 *
 * Deduplication: a delivery id seen before, or a digest seen before with no new tag, is not queued.
 * The Redis marks are written after the job, so a crash in between re-queues (harmless: the worker
 * starts workflows with a fixed id and USE_EXISTING) rather than losing the event.
 *
 * Group commit: events submitted while a batch is in Redis wait and go together in the next one —
 * one script call for all their checks, one pipeline for all their jobs, one script call for all their marks —
 * so Redis round trips scale with batches, not events. An idle queue sends an event at once.
 * Batches run one after another, and a batch decides its events in order with what earlier
 * events of the same batch did, so duplicates behave exactly as if submitted one by one.
 */
export class IngestQueue {
  readonly queue: Queue<IngestJob>;
  readonly deadLetters: Queue<DeadLetter>;
  private readonly scripts = { check: DEDUP_CHECK, mark: DEDUP_MARK };
  private pending: PendingSubmit[] = [];
  private committing = false;

  constructor(
    private readonly redis: Redis,
    private readonly options: IngestQueueOptions,
  ) {
    this.queue = new Queue<IngestJob>(INGEST_QUEUE_NAME, { connection: redis });
    this.deadLetters = new Queue<DeadLetter>(DEAD_LETTER_QUEUE_NAME, { connection: redis });
  }

  /** The queue with the configured deduplication window and attempts. */
  static fromConfig(redis: Redis, ingest: Config['ingest']): IngestQueue {
    return new IngestQueue(redis, {
      dedupTtlMs: durationMs(ingest.dedupTtl),
      attempts: ingest.maxAttempts,
      replicaAcks: ingest.replicaAcks,
      retry: retrySettings(ingest),
    });
  }

  submit(event: ImagePushed): Promise<SubmitResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ event, resolve, reject });
      if (!this.committing) void this.commitPending();
    });
  }

  /** Commits batches until nothing waits; a failed batch rejects its own events only. */
  private async commitPending(): Promise<void> {
    this.committing = true;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_BATCH);
      try {
        const results = await this.commit(batch.map((p) => p.event));
        batch.forEach((p, i) => p.resolve(results[i] as SubmitResult));
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.committing = false;
  }

  private async commit(events: ImagePushed[]): Promise<SubmitResult[]> {
    const keys = events.map((event) => {
      const workflowId = chainWorkflowId(event);
      const deliveryKey = event.deliveryId === undefined ? undefined : `${KEY_PREFIX}:delivery:${stableHash(event.source, event.deliveryId)}`;
      return { workflowId, deliveryKey, digestKey: `${KEY_PREFIX}:digest:${stableHash(workflowId)}` };
    });
    const checks = (await runLuaScript(
      this.redis,
      this.scripts.check,
      keys.flatMap((k) => [k.digestKey, k.deliveryKey ?? '', lifecycleKey(k.workflowId)]),
      [],
    )) as Array<[number, ...string[]]>;
    const now = (this.options.now ?? Date.now)();

    // What earlier events of this batch marked, as Redis will hold it once the batch is written.
    const seenDeliveries = new Set<string>();
    const batchTags = new Map<string, Set<string>>();
    const decisions: Decision[] = events.map((event, i) => {
      const { workflowId, deliveryKey, digestKey } = keys[i] as (typeof keys)[number];
      const [deliverySeen, outcome = '', failures = '0', endedAt = '0', ...stored] = checks[i] as [number, ...string[]];
      const decided = (result: SubmitOutcome, job?: Decision['job']): Decision => ({
        result: { workflowId, outcome: result, ...(job ? { jobId: job.opts.jobId } : {}) },
        digestKey,
        deliveryKey,
        ...(job ? { job } : {}),
      });
      if (deliverySeen || (deliveryKey !== undefined && seenDeliveries.has(deliveryKey))) return decided('duplicate-delivery');
      if (deliveryKey !== undefined) seenDeliveries.add(deliveryKey);
      const knownTags = [...new Set([...stored, ...(batchTags.get(digestKey) ?? [])])];
      batchTags.set(digestKey, new Set([...knownTags, '', ...event.tags]));
      const digestSeen = knownTags.length > 0;
      const newTags = event.tags.filter((t) => !knownTags.includes(t));
      const allTags = [...new Set([...knownTags.filter((t) => t !== ''), ...event.tags])].sort();
      const input = { ...event, tags: allTags };
      const last = parseChainRecord({ outcome, failures, endedAt });
      if (digestSeen && last?.outcome === 'failed') {
        // The lifecycle rule for failed chains: run again after the backoff, unless capped.
        const at = retryAt(last, this.options.retry ?? DEFAULT_RETRY);
        if (at === undefined) return decided('retry-capped');
        // One retry job per failed run, however many pushes ask for it.
        const jobId = `f-${stableHash(workflowId, String(last.endedAt))}`;
        return decided('retry-queued', { name: 'retry', data: { input, tags: allTags }, opts: { ...this.jobOptions(jobId), delay: Math.max(0, at - now) } });
      }
      if (digestSeen && newTags.length === 0) return decided('duplicate-digest');
      const jobId = `${digestSeen ? 't' : 's'}-${stableHash(workflowId, ...newTags.sort())}`;
      const job = { name: digestSeen ? ('add-tags' as const) : ('start' as const), data: { input, tags: newTags }, opts: this.jobOptions(jobId) };
      return decided(digestSeen ? 'tags-queued' : 'queued', job);
    });

    const jobs = decisions.flatMap((d) => (d.job ? [d.job] : []));
    if (jobs.length > 0) await this.queue.addBulk(jobs);
    await this.mark(
      decisions.flatMap((d, i) =>
        d.result.outcome === 'duplicate-delivery' ? [] : [{ ...d, tags: d.job || d.result.outcome === 'retry-capped' ? (events[i]?.tags ?? []) : undefined }],
      ),
    );
    await this.awaitReplicas();
    return decisions.map((d) => d.result);
  }

  /**
   * Replication is asynchronous: a primary killed right after a write loses it, and the replica that
   * Sentinel promotes never had it. Waiting for the replicas (also on an all-duplicate batch: WAIT
   * covers every earlier write of this connection) means an acknowledged event survives a failover;
   * when they do not confirm, the sender gets an error and retries. A primary with no replica attached
   * (the old primary not back yet after a failover) has none to lose the write to: Sentinel only
   * promotes a replica, so its AOF is what counts and the event is accepted.
   */
  private async awaitReplicas(): Promise<void> {
    const wanted = this.options.replicaAcks ?? 0;
    if (wanted === 0) return;
    const acked = await this.redis.wait(wanted, REPLICA_WAIT_MS);
    if (acked >= wanted) return;
    const attached = Number(/connected_slaves:(\d+)/.exec(await this.redis.info('replication'))?.[1] ?? NaN);
    if (attached === 0) return;
    throw new ChainError('SERVICE_UNREACHABLE', `only ${acked} of ${wanted} Redis replicas confirmed the write within ${REPLICA_WAIT_MS} ms`);
  }

  /**
   * Queues a Git push's source build. A delivery id seen before is not queued again (marked after
   * the job is written, as for registry events); the chain's fixed id (`build:<repo>@<commit>`)
   * makes any other duplicate join the chain already started.
   */
  async submitBuild(build: BuildJob['build'], source: string, deliveryId: string | undefined, now = new Date()): Promise<SubmitResult> {
    const workflowId = buildChainWorkflowId(build);
    const deliveryKey = deliveryId === undefined ? undefined : `${KEY_PREFIX}:delivery:${stableHash(`git/${source}`, deliveryId)}`;
    if (deliveryKey !== undefined && (await this.redis.exists(deliveryKey)) === 1) return { workflowId, outcome: 'duplicate-delivery' };
    const jobId = `b-${stableHash(workflowId, deliveryId ?? now.toISOString())}`;
    await this.queue.add('build', { build, pushedAt: now.toISOString() }, this.jobOptions(jobId));
    if (deliveryKey !== undefined) await this.redis.set(deliveryKey, '1', 'EX', Math.ceil(this.options.dedupTtlMs / 1000));
    return { workflowId, outcome: 'queued', jobId };
  }

  /**
   * Queues `input`'s chain to start again because its verdict changed to allowed (a rescan, by
   * default): the worker starts a new run only if the last one was blocked. One job per decision.
   */
  async submitUnblock(input: ImagePushed, decisionId: string): Promise<SubmitResult> {
    const workflowId = chainWorkflowId(input);
    const digestKey = `${KEY_PREFIX}:digest:${stableHash(workflowId)}`;
    const known = (await this.redis.smembers(digestKey)).filter((t) => t !== '');
    const tags = [...new Set([...known, ...input.tags])].sort();
    const jobId = `u-${stableHash(workflowId, decisionId)}`;
    await this.queue.add('unblock', { input: { ...input, tags }, tags }, this.jobOptions(jobId));
    return { workflowId, outcome: 'queued', jobId };
  }

  jobOptions(jobId: string): JobsOptions {
    return {
      jobId,
      attempts: this.options.attempts,
      backoff: { type: BACKOFF_TYPE },
      removeOnComplete: { age: 24 * 3600, count: 100_000 },
      // Failed jobs are copied to the dead-letter queue first; the copy is what operators replay.
      removeOnFail: { age: 7 * 24 * 3600 },
    };
  }

  /** Remembers digests with their tags (or only the delivery, when `tags` is undefined) and delivery ids, for `dedupTtlMs`. */
  private async mark(marks: Array<{ digestKey: string; deliveryKey: string | undefined; tags: string[] | undefined }>): Promise<void> {
    const wanted = marks.filter((m) => m.tags !== undefined || m.deliveryKey !== undefined);
    if (wanted.length === 0) return;
    const ttl = String(Math.ceil(this.options.dedupTtlMs / 1000));
    const keys = wanted.flatMap((m) => [m.digestKey, m.deliveryKey ?? '']);
    // MARK walks its keys in pairs.
    const args = wanted.flatMap((m) => (m.tags === undefined ? ['-1'] : [String(m.tags.length), ...m.tags]));
    await runLuaScript(this.redis, this.scripts.mark, keys, [ttl, ...args]);
  }

  /** Jobs per state, for the queue-depth gauge and `dchain webhooks`. */
  async depth(): Promise<Record<'waiting' | 'active' | 'delayed' | 'failed' | 'dead', number>> {
    const [counts, dead] = await Promise.all([
      this.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized'),
      this.deadLetters.getJobCounts('waiting'),
    ]);
    return {
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: counts.failed ?? 0,
      dead: dead.waiting ?? 0,
    };
  }

  /** Parks a job that will never succeed; nothing consumes the dead-letter queue but a replay. */
  async deadLetter(originalJobId: string, job: unknown, reason: string, attempts: number): Promise<void> {
    await this.deadLetters.add(
      'dead',
      { job, reason, attempts, failedAt: new Date().toISOString(), originalJobId },
      { jobId: originalJobId, removeOnComplete: true },
    );
  }

  async listDeadLetters(limit = 100): Promise<Array<DeadLetter & { id: string }>> {
    const jobs = await this.deadLetters.getJobs(['waiting'], 0, limit - 1, true);
    return jobs.map((j) => ({ ...j.data, id: String(j.id) }));
  }

  /** Queues a dead letter again (after the cause was fixed) and removes it; returns the new job id. */
  async replay(id: string): Promise<string> {
    const dead = await this.deadLetters.getJob(id);
    if (!dead) throw new ChainError('NOT_FOUND', `no dead letter with id ${id}`);
    const parsed = ingestJobSchema.safeParse(dead.data.job);
    if (!parsed.success)
      throw new ChainError('BAD_INPUT', `dead letter ${id} does not hold a valid event and cannot be replayed: ${parsed.error.issues[0]?.message ?? ''}`);
    const jobId = `r-${stableHash(id, String(Date.now()))}`;
    await this.queue.add('replay' satisfies IngestJobKind, parsed.data, this.jobOptions(jobId));
    await dead.remove();
    return jobId;
  }

  /** Never throws: closing while Redis is unreachable must not fail a shutdown. */
  async close(): Promise<void> {
    await Promise.allSettled([this.queue.close(), this.deadLetters.close()]);
  }
}
