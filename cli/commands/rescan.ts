import { type Client, ScheduleNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { type Command } from 'commander';
import { type Config } from '../../src/config/schema';
import { RESCAN_SCHEDULE_ID, RESCAN_WORKFLOW_TYPE, rescanSettings } from '../../workers/rescan-schedule';
import { type rescan, type RescanSummary } from '../../workflows/rescan';
import { cliConfig, connectTemporal } from '../context';

export interface StartedRescan {
  workflowId: string;
  /** True when a scheduled rescan was already running and this one follows it instead of starting another. */
  attached: boolean;
  handle: WorkflowHandle<typeof rescan>;
}

/**
 * Runs the rescan now: follows the schedule's run if one is going on (the schedule skips
 * overlapping runs, and so does this), otherwise starts the `rescan` workflow with the configured settings.
 */
export async function startRescan(client: Client, config: Config, now = new Date()): Promise<StartedRescan> {
  try {
    const described = await client.schedule.getHandle(RESCAN_SCHEDULE_ID).describe();
    const running = described.info.runningActions[0];
    if (running) return { workflowId: running.workflow.workflowId, attached: true, handle: client.workflow.getHandle<typeof rescan>(running.workflow.workflowId) };
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  const workflowId = `${RESCAN_SCHEDULE_ID}-cli-${now.toISOString()}`;
  const handle = await client.workflow.start<typeof rescan>(RESCAN_WORKFLOW_TYPE, { workflowId, taskQueue: config.temporal.taskQueue, args: [rescanSettings(config)] });
  return { workflowId, attached: false, handle };
}

export function formatSummary(workflowId: string, s: RescanSummary): string {
  const rows: Array<[string, number]> = [
    ['checked', s.checked],
    ['changed to denied', s.changedToDenied],
    ['changed to allowed', s.changedToAllowed],
    ['unchanged', s.unchanged],
    ['skipped', s.skipped],
    ['failed', s.failed],
    ['decisions recorded', s.recorded],
    ['kept by break-glass', s.overridden],
    ['notified', s.notified],
  ];
  const lines = [`rescan ${workflowId}: OSV data ${s.osv.version} (${s.osv.records} records), ${s.runs} run${s.runs > 1 ? 's' : ''}`];
  for (const [name, n] of rows) lines.push(`  ${name.padEnd(20)} ${n}`);
  if (s.problems.length) {
    lines.push('problems:');
    for (const p of s.problems) lines.push(`  ${p.digest} ${p.step}: ${p.error}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `dchain rescan`: rescan every gated image now, as the schedule does, and print the summary. */
export function register(program: Command): void {
  program
    .command('rescan')
    .description('rescan every gated image now against fresh OSV data (what the rescan schedule runs) and print the summary')
    .option('--json', 'machine-readable output')
    .option('--no-wait', 'start the rescan and print its workflow id without waiting for it')
    .action(async (opts: { json?: boolean; wait: boolean }) => {
      const config = cliConfig(program.opts());
      const session = await connectTemporal(config);
      try {
        const { workflowId, attached, handle } = await startRescan(session.client, config);
        if (!opts.wait) {
          process.stdout.write(opts.json ? `${JSON.stringify({ workflowId, attached }, null, 2)}\n` : `${attached ? 'following running' : 'started'} rescan ${workflowId}\n`);
          return;
        }
        if (!opts.json) process.stderr.write(`${attached ? 'following the running' : 'started'} rescan ${workflowId}\n`);
        const summary = await handle.result();
        process.stdout.write(opts.json ? `${JSON.stringify({ workflowId, attached, summary }, null, 2)}\n` : formatSummary(workflowId, summary));
      } finally {
        await session.close();
      }
    });
}
