import { Context } from '@temporalio/activity';
import { z } from 'zod';
import { durationMs } from '../src/config/duration';
import { ChainError } from '../src/errors/chain-error';
import { ChainLifecycleStore, type ChainRecord, IngestQueue } from '../src/ingest';
import { DecisionStore } from '../src/policy';
import { type ActivityDeps } from './deps';
import { toActivityFailure } from './errors';
import { activityLogger, activityWorkflowId } from './log';

const outcomeInputSchema = z.strictObject({ digest: z.string(), outcome: z.enum(['delivered', 'blocked', 'failed']) });

/**
 * The chain lifecycle: a chain records how its run ended (ingestion applies the rules on the next
 * push), and a rescan that turns a blocked image allowed queues its chain to start again.
 */
export function createLifecycleActivities(deps: ActivityDeps) {
  const store = new ChainLifecycleStore(deps.redis, durationMs(deps.config.ingest.dedupTtl));
  const decisions = new DecisionStore(deps.redis);
  let queue: IngestQueue | undefined;
  const ingestQueue = () => (queue ??= IngestQueue.fromConfig(deps.redis, deps.config.ingest));

  return {
    /** Records the end of this run of the calling chain (idempotent per run). */
    async recordChainOutcome(raw: z.input<typeof outcomeInputSchema>): Promise<ChainRecord> {
      const parsed = outcomeInputSchema.safeParse(raw);
      if (!parsed.success) return toActivityFailure(new ChainError('BAD_INPUT', `recordChainOutcome input: ${parsed.error.issues[0]?.message ?? ''}`));
      const runId = Context.current().info.workflowExecution?.runId ?? 'standalone';
      try {
        const record = await store.record(activityWorkflowId(), runId, parsed.data.outcome);
        activityLogger(deps.logger, parsed.data.digest).info({ outcome: record.outcome, failures: record.failures }, 'chain outcome recorded');
        return record;
      } catch (err) {
        return toActivityFailure(err);
      }
    },

    /**
     * After a rescan turned `digest` allowed: queues its chain to start again (the queue worker
     * starts it only if its last run was blocked). Off with `rescan.startUnblocked: false`.
     * Returns the chain's workflow id, or undefined when nothing was queued.
     */
    async restartUnblocked(input: { digest: string }): Promise<string | undefined> {
      const log = activityLogger(deps.logger, input.digest);
      try {
        if (!deps.config.rescan.startUnblocked) return undefined;
        const latest = await decisions.latest(input.digest);
        if (!latest) return undefined;
        const host = latest.facts.registry;
        const registry = deps.config.registries.find((r) => r.name === host || new URL(r.url).host === host);
        if (!registry) {
          log.warn({ registry: host }, 'unblocked image is in no configured registry; its chain is not started');
          return undefined;
        }
        const event = { registry: registry.name, repository: latest.facts.repository, digest: input.digest, tags: [], pushedAt: new Date().toISOString(), source: 'rescan' };
        const result = await ingestQueue().submitUnblock(event, latest.recordedAt);
        log.info({ workflowId: result.workflowId, jobId: result.jobId }, 'rescan allowed a blocked image: its chain is queued to start again');
        return result.workflowId;
      } catch (err) {
        return toActivityFailure(err);
      }
    },
  };
}
