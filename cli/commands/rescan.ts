import { type Command } from 'commander';
import { type RescanSummary } from '../../src/chain';
import { startRescan, type StartedRescan } from '../../workers/temporal/rescan-control';
import { cliConfig, connectTemporal } from '../context';

export { startRescan, type StartedRescan };

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
    .description('rescan every gated image now against fresh OSV data (triggers the rescan schedule, or follows its running rescan) and print the summary')
    .option('--json', 'machine-readable output')
    .option('--no-wait', 'start the rescan and print its workflow id without waiting for it')
    .action(async (opts: { json?: boolean; wait: boolean }) => {
      const config = cliConfig(program.opts());
      const session = await connectTemporal(config);
      try {
        const { workflowId, attached, handle } = await startRescan(session.client);
        if (!opts.wait) {
          process.stdout.write(
            opts.json ? `${JSON.stringify({ workflowId, attached }, null, 2)}\n` : `${attached ? 'following running' : 'started'} rescan ${workflowId}\n`,
          );
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
