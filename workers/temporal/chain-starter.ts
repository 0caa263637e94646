/**
 * Starting chains from the ingestion queue under the lifecycle rules (the queue worker's
 * ChainStarter on Temporal's side).
 */
import { type Client, isGrpcServiceError, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { type AddTagsSignal, type ChainInput, chainWorkflowId, SIGNALS, WORKFLOW_TYPES } from '../../src/chain';
import { ChainError } from '../../src/errors';
import { type BuildJob, type ChainStarter, type StartMode, type StartOutcome } from '../../src/ingest';
import { startBuildChain } from '../../src/source-build';
import { DcRepositoryName } from '../../workflows/search-attributes';
import { deliverNewTags, lastRun, startNewRun } from './chain-control';

/** gRPC codes that no retry will fix (a bad request, not an unreachable server). */
const PERMANENT_GRPC_CODES = new Set([3 /* INVALID_ARGUMENT */, 7 /* PERMISSION_DENIED */, 12 /* UNIMPLEMENTED */, 16 /* UNAUTHENTICATED */]);

/**
 * Starts chains under the lifecycle rules. A first push: signal-with-start of the workflow
 * `chain:<registry>/<repository>@<digest>` (conflict policy USE_EXISTING: a running chain gets the
 * `addTags` signal; the chain keeps tags as a set). A digest whose chain already ended: new tags of
 * a delivered digest go to the tag-delivery path; a blocked one keeps waiting (its tags are
 * recorded by the queue); a failed one runs again (`retry` jobs come after the queue's backoff and
 * within its cap). `unblock` starts a blocked chain again after its verdict changed.
 */
export class TemporalChainStarter implements ChainStarter {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  async startOrSignal(input: ChainInput, tags: string[], mode: StartMode = 'start'): Promise<StartOutcome> {
    const workflowId = chainWorkflowId(input);
    try {
      if (mode === 'start') {
        try {
          await this.client.workflow.signalWithStart<(i: ChainInput) => Promise<unknown>, [AddTagsSignal]>(WORKFLOW_TYPES.deliveryChain, {
            workflowId,
            taskQueue: this.taskQueue,
            args: [input],
            signal: SIGNALS.addTags,
            signalArgs: [{ tags }],
            workflowIdConflictPolicy: 'USE_EXISTING',
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
            typedSearchAttributes: [{ key: DcRepositoryName, value: input.repository }],
          });
          return 'running';
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        }
      }
      const last = await lastRun(this.client, workflowId);
      if (!last) return mode === 'start' ? 'closed' : this.restart(workflowId, this.taskQueue, input, tags);
      switch (last.state) {
        case 'running':
          await this.client.workflow.getHandle(workflowId).signal(SIGNALS.addTags, { tags });
          return 'running';
        case 'delivered':
          if (tags.length === 0) return 'closed';
          await deliverNewTags(this.client, last.taskQueue, { registry: input.registry, repository: input.repository, digest: input.digest, tags });
          return 'tags-delivering';
        case 'blocked':
          return mode === 'unblock' ? this.restart(workflowId, last.taskQueue, input, tags) : 'blocked';
        case 'failed':
          // A start for a failed chain comes when the queue had no record of it (expired): run again.
          return mode === 'unblock' ? 'closed' : this.restart(workflowId, last.taskQueue, input, tags);
      }
    } catch (err) {
      if (err instanceof ChainError) throw err;
      const code = isGrpcServiceError(err)
        ? err.code
        : isGrpcServiceError((err as { cause?: unknown }).cause)
          ? (err as { cause: { code: number } }).cause.code
          : undefined;
      const message = `cannot start ${workflowId}: ${(err as Error).message}`;
      if (code !== undefined && PERMANENT_GRPC_CODES.has(code)) throw new ChainError('BAD_INPUT', message, { cause: err, retryable: false });
      throw new ChainError('SERVICE_UNREACHABLE', message, { cause: err });
    }
  }

  async startBuild(job: BuildJob): Promise<StartOutcome> {
    try {
      const started = await startBuildChain(this.client, { temporal: { taskQueue: this.taskQueue } }, job.build, () => new Date(job.pushedAt));
      // Already started: it runs or delivered (a failed one was started again); either way there is nothing more to do.
      return started.outcome === 'started' ? 'running' : 'closed';
    } catch (err) {
      if (err instanceof ChainError) throw err;
      throw new ChainError('SERVICE_UNREACHABLE', `cannot start the build of ${job.build.repoUrl}: ${(err as Error).message}`, { cause: err });
    }
  }

  private async restart(workflowId: string, taskQueue: string, input: ChainInput, tags: string[]): Promise<StartOutcome> {
    await startNewRun(this.client, workflowId, taskQueue, input, { name: SIGNALS.addTags, args: [{ tags }] });
    return 'restarted';
  }
}
