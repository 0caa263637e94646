/**
 * Starting the delivery chain of a source build. One chain per repository and commit
 * (`build:<repoUrl>@<commit>`): a redelivered push joins the running or finished chain, and only a
 * failed chain is started again. The client is Temporal's, typed here by what is used.
 */
import { type Config } from '../config';
import { ChainError } from '../errors';
import { type BuildRequest, buildChainWorkflowId, type ChainInput, WORKFLOW_TYPES } from '../chain';

/** The deliveryChain argument of a source build; the build stage fills in the digest. */
export type BuildChainInput = ChainInput & { digest: ''; build: BuildRequest };

export interface WorkflowStarter {
  workflow: {
    start(
      workflowType: string,
      options: { taskQueue: string; workflowId: string; args: [BuildChainInput]; workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY' },
    ): Promise<{ workflowId: string }>;
  };
}

export type BuildChainOutcome = 'started' | 'already-started';

export async function startBuildChain(
  client: WorkflowStarter,
  config: { temporal: Pick<Config['temporal'], 'taskQueue'> },
  request: BuildRequest,
  now: () => Date = () => new Date(),
): Promise<{ workflowId: string; outcome: BuildChainOutcome }> {
  const workflowId = buildChainWorkflowId(request);
  const input: BuildChainInput = {
    registry: request.registry,
    repository: request.repository,
    digest: '',
    tags: request.tags,
    pushedAt: now().toISOString(),
    source: 'git',
    build: request,
  };
  try {
    await client.workflow.start(WORKFLOW_TYPES.deliveryChain, {
      taskQueue: config.temporal.taskQueue,
      workflowId,
      args: [input],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
    });
    return { workflowId, outcome: 'started' };
  } catch (err) {
    // The SDK's WorkflowExecutionAlreadyStartedError, recognised by name: the domain has no Temporal imports.
    if (err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError') return { workflowId, outcome: 'already-started' };
    throw new ChainError('SERVICE_UNREACHABLE', `cannot start the build chain ${workflowId}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}
