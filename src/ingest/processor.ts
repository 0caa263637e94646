import { type Job, UnrecoverableError } from 'bullmq';
import { ChainError } from '../errors/chain-error';
import { type Logger } from '../log/logger';
import { type ChainInput, chainWorkflowId } from './image-pushed';
import { type IngestJob, ingestJobSchema, type IngestQueue } from './queue';

/** What the chain already is, after a start-or-signal. */
export type StartOutcome = 'running' | 'closed';

/**
 * Starts delivery chains. Implemented over Temporal by the queue worker process; the domain only
 * knows this contract: start `input`'s chain unless it runs (one per digest) and add `tags` to it.
 * Throws a retryable ChainError while the orchestrator is unreachable.
 */
export interface ChainStarter {
  startOrSignal(input: ChainInput, tags: string[]): Promise<StartOutcome>;
}

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
    const { input, tags } = parsed.data;
    const workflowId = chainWorkflowId(input);
    try {
      const outcome = await deps.starter.startOrSignal(input, tags);
      deps.logger.info({ workflowId, digest: input.digest, tags, outcome, jobId }, outcome === 'running' ? 'chain started or joined' : 'chain already finished for this digest');
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
