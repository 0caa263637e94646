/**
 * Retrying a failed chain the way the Temporal UI's Reset does, with the point chosen for the
 * operator: the workflow task that scheduled the first activity of the stage the chain failed in.
 * Everything before it (scan, gate, signatures, attestations) stays in the new run's history and is
 * not done again; the failed stage runs afresh. (`LastWorkflowTask` replays the failure; the first
 * workflow task re-signs and re-attests everything.)
 */
import { randomUUID } from 'node:crypto';
import { type Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { ChainError } from '../../src/errors';

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

export interface ResetPoint {
  /** The stage the chain failed in. */
  stage: string;
  /** The activity the stage began with, and its ActivityTaskScheduled event. */
  activity: string;
  scheduledEventId: number;
  /** The WorkflowTaskCompleted event to reset to. */
  workflowTaskFinishEventId: number;
}

const STAGES = new Set(['build', 'scan', 'gate', 'sign', 'sync', 'distribute']);

function stageOf(event: HistoryEvent): string | undefined {
  const payload = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.DcStage;
  if (!payload) return undefined;
  const value = defaultPayloadConverter.fromPayload<unknown>(payload);
  return typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined;
}

/**
 * The reset point of a failed chain run's history: the stage it was in when it failed (the last
 * `DcStage` before `failed`), and the workflow task that scheduled that stage's first activity.
 */
export function resetPoint(events: readonly HistoryEvent[]): ResetPoint {
  const { stage, first } = walk(events);
  if (stage === undefined) throw new ChainError('BAD_INPUT', 'the run never entered a stage: start it again instead of resetting it');
  const point = first.get(stage);
  if (!point) throw new ChainError('BAD_INPUT', `the run failed in ${stage} before scheduling any activity of it: nothing to reset to`);
  return { stage, ...point };
}

/** The stage a failed run was in when it failed (for chains that do not record DcFailedStage). */
export function failedStage(events: readonly HistoryEvent[]): string | undefined {
  return walk(events).stage;
}

function walk(events: readonly HistoryEvent[]) {
  let stage: string | undefined;
  const first = new Map<string, { activity: string; scheduledEventId: number; workflowTaskFinishEventId: number }>();
  for (const event of events) {
    const entered = stageOf(event);
    if (entered === 'failed' || entered === 'blocked' || entered === 'done') break;
    if (entered !== undefined && STAGES.has(entered)) stage = entered;
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled && stage !== undefined && !first.has(stage)) {
      first.set(stage, {
        activity: scheduled.activityType?.name ?? '',
        scheduledEventId: Number(event.eventId),
        workflowTaskFinishEventId: Number(scheduled.workflowTaskCompletedEventId),
      });
    }
  }
  return { stage, first };
}

/** Resets run `runId` of `workflowId` to the reset point of its history; returns the new run's id. */
export async function resetToFailedStage(client: Client, workflowId: string, runId: string, reason: string): Promise<{ runId: string; point: ResetPoint }> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const point = resetPoint(history.events ?? []);
  type ResetRequest = Parameters<Client['workflowService']['resetWorkflowExecution']>[0];
  const request = {
    namespace: client.options.namespace,
    workflowExecution: { workflowId, runId },
    reason,
    // protobufjs takes a number for an int64 field; the generated type names only Long.
    workflowTaskFinishEventId: point.workflowTaskFinishEventId as unknown as ResetRequest['workflowTaskFinishEventId'],
    requestId: randomUUID(),
  } satisfies ResetRequest;
  const response = (await client.workflowService.resetWorkflowExecution(request)) as { runId?: string | null };
  return { runId: response.runId ?? '', point };
}
