/**
 * The chain's Temporal Schedules. The rescan schedule (`rescan.*` in the configuration) starts the
 * `rescan` workflow every `rescan.interval`, overlap SKIP; the Temporal worker creates or updates it
 * when it starts, so it always follows the configuration it runs with. The reconcile schedule
 * (`ingest.reconcileInterval`) is kept by the queue worker.
 */
import { type Client, ScheduleAlreadyRunning, ScheduleNotFoundError } from '@temporalio/client';
import { type Config, durationMs } from '../../src/config';
import { type RescanSettings, SCHEDULE_IDS, WORKFLOW_TYPES } from '../../src/chain';

/** The note a schedule paused by `rescan.enabled: false` carries; a pause with another note is an operator's. */
export const RESCAN_DISABLED_NOTE = 'paused by configuration: rescan.enabled is false';

export type RescanScheduleChange = 'created' | 'updated' | 'paused' | 'absent';

/** The workflow's settings from the configuration (the schedule's action passes them). */
export function rescanSettings(config: Config): RescanSettings {
  return { batchSize: config.rescan.batchSize, concurrency: config.rescan.concurrency, parallelBatches: config.rescan.parallelBatches, batched: true };
}

/**
 * Creates the schedule, or updates its interval, settings and policies if it exists. With
 * `rescan.enabled: false` an existing schedule is paused (and resumed when enabled again); none
 * is created. A schedule an operator paused by hand stays paused.
 */
export async function ensureRescanSchedule(client: Client, config: Config): Promise<RescanScheduleChange> {
  const handle = client.schedule.getHandle(SCHEDULE_IDS.rescan);
  if (!config.rescan.enabled) {
    try {
      const described = await handle.describe();
      if (!described.state.paused) await handle.pause(RESCAN_DISABLED_NOTE);
      return 'paused';
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return 'absent';
      throw err;
    }
  }
  const spec = { intervals: [{ every: config.rescan.interval }] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: WORKFLOW_TYPES.rescan,
    // Temporal appends the scheduled time: runs are `dchain-rescan-<time>`.
    workflowId: SCHEDULE_IDS.rescan,
    taskQueue: config.temporal.taskQueue,
    args: [rescanSettings(config)],
  };
  // A rescan missed while Temporal was down still runs if it is less than one interval late.
  const policies = { overlap: 'SKIP' as const, catchupWindow: Math.max(durationMs(config.rescan.interval), 60_000) };
  try {
    await client.schedule.create({ scheduleId: SCHEDULE_IDS.rescan, spec, action, policies });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await handle.update((previous) => {
    const resume = previous.state.paused && previous.state.note === RESCAN_DISABLED_NOTE;
    return {
      ...previous,
      spec,
      action,
      policies: { ...previous.policies, ...policies },
      state: resume ? { ...previous.state, paused: false, note: 'resumed by configuration' } : previous.state,
    };
  });
  return 'updated';
}

/** Creates the reconciliation schedule, or updates its interval if it exists. */
export async function ensureReconcileSchedule(client: Client, config: Config): Promise<void> {
  const spec = { intervals: [{ every: config.ingest.reconcileInterval }] };
  try {
    await client.schedule.create({
      scheduleId: SCHEDULE_IDS.reconcile,
      spec,
      action: { type: 'startWorkflow', workflowType: WORKFLOW_TYPES.reconcile, taskQueue: config.temporal.taskQueue, args: [] },
      policies: { overlap: 'SKIP' },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(SCHEDULE_IDS.reconcile).update((previous) => ({ ...previous, spec }));
  }
}
