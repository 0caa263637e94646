/** Running the rescan now, through its schedule (the CLI's `dchain rescan` and `POST /v1/rescans`). */
import { setTimeout as delay } from 'node:timers/promises';
import { type Client, type ScheduleExecutionActionResult, ScheduleNotFoundError, ScheduleOverlapPolicy, type WorkflowHandle } from '@temporalio/client';
import { ChainError } from '../../src/errors';
import { type RescanInput, type RescanSummary, SCHEDULE_IDS } from '../../src/chain';

/** The `rescan` workflow's signature, as the client sees it. */
type RescanWorkflow = (input: RescanInput) => Promise<RescanSummary>;

export interface StartedRescan {
  workflowId: string;
  /** True when a rescan of the schedule was already running and this one follows it instead of starting another. */
  attached: boolean;
  handle: WorkflowHandle<RescanWorkflow>;
}

/** How long the schedule may take to start the triggered run before the CLI gives up waiting for it. */
const TRIGGER_TIMEOUT_MS = 30_000;
const TRIGGER_POLL_MS = 200;

/**
 * Runs the rescan now through its schedule, so overlap SKIP holds for it too: follows the
 * schedule's run if one is going on, otherwise triggers the schedule (a paused one too) and follows
 * the run it starts. The worker creates the schedule; without it there is nothing to run.
 */
export async function startRescan(client: Client, options: { timeoutMs?: number } = {}): Promise<StartedRescan> {
  const schedule = client.schedule.getHandle(SCHEDULE_IDS.rescan);
  const described = await schedule.describe().catch((err: unknown) => {
    if (err instanceof ScheduleNotFoundError) {
      throw new ChainError(
        'NOT_FOUND',
        `no rescan schedule "${SCHEDULE_IDS.rescan}": the Temporal worker creates it when it starts (unless rescan.enabled is false)`,
        { cause: err },
      );
    }
    throw err;
  });
  const follow = (action: ScheduleExecutionActionResult, attached: boolean): StartedRescan => ({
    workflowId: action.workflow.workflowId,
    attached,
    handle: client.workflow.getHandle<RescanWorkflow>(action.workflow.workflowId, undefined, { firstExecutionRunId: action.workflow.firstExecutionRunId }),
  });
  const running = described.info.runningActions[0];
  if (running) return follow(running, true);

  const known = new Set(described.info.recentActions.map((a) => a.action.workflow.workflowId));
  await schedule.trigger(ScheduleOverlapPolicy.SKIP);
  // The schedule starts the run on its own time: follow it once it shows, running or (a short one) done.
  const deadline = Date.now() + (options.timeoutMs ?? TRIGGER_TIMEOUT_MS);
  for (;;) {
    const { info } = await schedule.describe();
    const started = info.runningActions[0] ?? info.recentActions.map((a) => a.action).find((a) => !known.has(a.workflow.workflowId));
    if (started) return follow(started, false);
    if (Date.now() > deadline)
      throw new ChainError(
        'TRANSIENT',
        `the rescan schedule was triggered but started no run within ${Math.round((options.timeoutMs ?? TRIGGER_TIMEOUT_MS) / 1000)} s`,
      );
    await delay(TRIGGER_POLL_MS);
  }
}
