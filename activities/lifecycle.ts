import { z } from 'zod';
import { durationMs } from '../src/config';
import { ChainLifecycleStore, type ChainRecord } from '../src/ingest';
import { DecisionStore } from '../src/policy';
import { activity } from './activity';
import { type ActivityDeps } from './deps';
import { ingestQueueOf } from './ingest-queue';

const outcomeInputSchema = z.strictObject({ digest: z.string(), outcome: z.enum(['delivered', 'blocked', 'failed']) });

/**
 * The chain lifecycle: a chain records how its run ended (ingestion applies the rules on the next
 * push), and a rescan that turns a blocked image allowed queues its chain to start again.
 */
export function createLifecycleActivities(deps: ActivityDeps) {
  const store = new ChainLifecycleStore(deps.redis, durationMs(deps.config.ingest.dedupTtl));
  const decisions = new DecisionStore(deps.redis);

  return {
    /** Records the end of this run of the calling chain (idempotent per run). */
    recordChainOutcome: activity(
      deps.logger,
      { input: outcomeInputSchema, subject: (i) => i.digest },
      async (input, { log, workflowId, runId }): Promise<ChainRecord> => {
        const record = await store.record(workflowId, runId, input.outcome);
        log.info({ outcome: record.outcome, failures: record.failures }, 'chain outcome recorded');
        return record;
      },
    ),

    /**
     * After a rescan turned `digest` allowed: queues its chain to start again (the queue worker
     * starts it only if its last run was blocked). Off with `rescan.startUnblocked: false`.
     * Returns the chain's workflow id, or undefined when nothing was queued.
     */
    restartUnblocked: activity(deps.logger, { subject: (i: { digest: string }) => i.digest }, async (input, { log }): Promise<string | undefined> => {
      if (!deps.config.rescan.startUnblocked) return undefined;
      const latest = await decisions.latest(input.digest);
      if (!latest) return undefined;
      const host = latest.facts.registry;
      const registry = deps.registries.find(host);
      if (!registry) {
        log.warn({ registry: host }, 'unblocked image is in no configured registry; its chain is not started');
        return undefined;
      }
      const event = {
        registry: registry.name,
        repository: latest.facts.repository,
        digest: input.digest,
        tags: [],
        pushedAt: new Date().toISOString(),
        source: 'rescan',
      };
      const result = await ingestQueueOf(deps).submitUnblock(event, latest.recordedAt);
      log.info({ workflowId: result.workflowId, jobId: result.jobId }, 'rescan allowed a blocked image: its chain is queued to start again');
      return result.workflowId;
    }),
  };
}
