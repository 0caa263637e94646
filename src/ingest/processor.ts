import { type Job, UnrecoverableError } from 'bullmq';
import { ChainError } from '../errors';
import { type Logger } from '../log';
import { buildChainWorkflowId, type ChainInput, chainWorkflowId } from '../chain';
import { type BuildJob, type IngestJob, ingestJobSchema, type IngestQueue } from './queue';

/**
 * What the chain is after a job: `running` (started or joined, tags signalled), `restarted` (a new
 * run of a failed — or, for `unblock`, blocked — chain), `tags-delivering` (a delivered chain's new
 * tags went to the tag-delivery path), `blocked` (the tags wait with the blocked chain), `closed`
 * (the chain ended and the lifecycle rules start nothing).
 */
export type StartOutcome = 'running' | 'restarted' | 'tags-delivering' | 'blocked' | 'closed';

/** How the job wants the chain started (see IngestJobKind). */
export type StartMode = 'start' | 'retry' | 'unblock';

/**
 * Starts delivery chains. Implemented over Temporal by the queue worker process; the domain only
 * knows this contract: start `input`'s chain unless it runs (one per digest) and add `tags` to it.
 * Throws a retryable ChainError while the orchestrator is unreachable.
 */
export interface ChainStarter {
  startOrSignal(input: ChainInput, tags: string[], mode: StartMode): Promise<StartOutcome>;
  /** Starts a Git push's source build chain unless it runs or delivered (a failed one starts again). */
  startBuild(job: BuildJob): Promise<StartOutcome>;
}

const OUTCOME_MESSAGES: Record<StartOutcome, string> = {
  running: 'chain started or joined',
  restarted: 'chain started again (its last run failed, or its verdict changed)',
  'tags-delivering': 'new tags of a delivered digest sent to the tag-delivery path',
  blocked: 'chain is blocked; its tags wait for a change of verdict',
  closed: 'chain already finished for this digest; nothing to start',
};

export interface ProcessorDeps {
  starter: ChainStarter;
  queue: Pick<IngestQueue, 'deadLetter'>;
  logger: Logger;
}

/**
 * The BullMQ processor of the ingestion queue. Transient failures are thrown for BullMQ to retry
 * with backoff; a job that cannot succeed (invalid, permanently refused, out of attempts) is copied
 * to the dead-letter queue and failed for good.
 */
export function createIngestProcessor(deps: ProcessorDeps): (job: Job<IngestJob>) => Promise<{ workflowId: string; outcome: StartOutcome }> {
  return async (job) => {
    const jobId = String(job.id);
    const parsed = ingestJobSchema.safeParse(job.data);
    if (!parsed.success) {
      await deps.queue.deadLetter(jobId, job.data, `invalid job: ${parsed.error.issues[0]?.message ?? 'schema mismatch'}`, job.attemptsMade + 1);
      throw new UnrecoverableError('invalid ingestion job');
    }
    const data = parsed.data;
    const workflowId = 'build' in data ? buildChainWorkflowId(data.build) : chainWorkflowId(data.input);
    try {
      if ('build' in data) {
        const outcome = await deps.starter.startBuild(data);
        deps.logger.info(
          { workflowId, ref: data.build.ref, commit: data.build.commit, outcome, jobId },
          outcome === 'running' ? 'source build chain started or joined' : OUTCOME_MESSAGES[outcome],
        );
        return { workflowId, outcome };
      }
      const { input, tags } = data;
      const mode: StartMode = job.name === 'retry' ? 'retry' : job.name === 'unblock' ? 'unblock' : 'start';
      const outcome = await deps.starter.startOrSignal(input, tags, mode);
      deps.logger.info({ workflowId, digest: input.digest, tags, outcome, mode, jobId }, OUTCOME_MESSAGES[outcome]);
      return { workflowId, outcome };
    } catch (err) {
      const attempt = job.attemptsMade + 1;
      const lastAttempt = attempt >= (job.opts.attempts ?? 1);
      const permanent = err instanceof ChainError && !err.retryable;
      const reason = err instanceof Error ? `${err instanceof ChainError ? `${err.code}: ` : ''}${err.message}` : String(err);
      if (permanent || lastAttempt) {
        await deps.queue.deadLetter(jobId, job.data, reason, attempt);
        deps.logger.error({ workflowId, jobId, attempt, reason }, 'ingestion job dead-lettered');
        throw new UnrecoverableError(reason);
      }
      deps.logger.warn({ workflowId, jobId, attempt, reason }, 'cannot start chain yet; retrying');
      throw err;
    }
  };
}
