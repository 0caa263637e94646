/**
 * The lifecycle rules on Temporal's side, shared by the queue worker and the `dchain chain`
 * commands: what a digest's last chain run is (running, delivered, blocked, failed), starting a
 * new run of a failed or blocked chain from its recorded input, and the tag-delivery path.
 */
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { ChainError } from '../../src/errors';
import { type AddTagsSignal, type ChainInput, type ChainStatus, SIGNALS, tagDeliveryWorkflowId, type TagDeliveryInput, WORKFLOW_TYPES } from '../../src/chain';
import { DcRepositoryName } from '../../workflows/search-attributes';

export type RunState = 'running' | 'delivered' | 'blocked' | 'failed';

export interface LastRun {
  state: RunState;
  runId: string;
  taskQueue: string;
  /** The stage it is in (running) or ended in. */
  stage: string;
}

/** The latest run of `workflowId`, or undefined when it never ran. */
export async function lastRun(client: Client, workflowId: string): Promise<LastRun | undefined> {
  let description;
  try {
    description = await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  const stage = String(description.searchAttributes.DcStage?.[0] ?? '');
  const status = description.status.name;
  const state: RunState =
    status === 'RUNNING' ? 'running' : status === 'COMPLETED' ? 'delivered' : status === 'FAILED' && stage === 'blocked' ? 'blocked' : 'failed';
  return { state, runId: description.runId, taskQueue: description.taskQueue, stage: status === 'RUNNING' ? stage : stage || status.toLowerCase() };
}

/** The input the latest run of `workflowId` was started with. */
export async function recordedInput(client: Client, workflowId: string): Promise<ChainInput> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new ChainError('BAD_INPUT', `chain ${workflowId} has no recorded input to start again from`);
  return defaultPayloadConverter.fromPayload<ChainInput>(payload);
}

/**
 * Starts a new run of a chain that ended, with `input`, signalled with `signal` (the tags to add,
 * or a break-glass override). A run that started meanwhile is joined, never doubled: one running
 * chain per digest.
 */
export async function startNewRun(
  client: Client,
  workflowId: string,
  taskQueue: string,
  input: ChainInput,
  signal: { name: string; args: unknown[] },
): Promise<string> {
  const started = await client.workflow.signalWithStart<(i: ChainInput) => Promise<ChainStatus>, unknown[]>(WORKFLOW_TYPES.deliveryChain, {
    workflowId,
    taskQueue,
    args: [input],
    signal: signal.name,
    signalArgs: signal.args,
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: [{ key: DcRepositoryName, value: input.repository }],
  });
  return started.signaledRunId;
}

/** Sends new tags of a delivered digest down the tag-delivery path (joining a delivery that runs). */
export async function deliverNewTags(client: Client, taskQueue: string, input: TagDeliveryInput): Promise<string> {
  const workflowId = tagDeliveryWorkflowId(input);
  await client.workflow.signalWithStart<(i: TagDeliveryInput) => Promise<unknown>, [AddTagsSignal]>(WORKFLOW_TYPES.deliverTags, {
    workflowId,
    taskQueue,
    args: [input],
    signal: SIGNALS.addTags,
    signalArgs: [{ tags: input.tags }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
  return workflowId;
}
