/**
 * `npm run bench [-- --quick] [name…]`: runs every bench/*.bench.ts (or the named ones) and prints
 * one table: metric, ours, peer, ratio (ours / peer), median of N runs.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Table from 'cli-table3';
import { type Benchmark, type BenchRow } from './harness';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const only = args.filter((a) => !a.startsWith('-'));
  const files = readdirSync(__dirname)
    .filter((f) => f.endsWith('.bench.ts'))
    .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
    .sort();
  const rows: Array<BenchRow & { bench: string }> = [];
  let failed = false;
  for (const file of files) {
    const name = file.replace(/\.bench\.ts$/, '');
    const workDir = mkdtempSync(join(tmpdir(), `dchain-bench-${name}-`));
    const log = (msg: string) => process.stderr.write(`[${name}] ${msg}\n`);
    try {
      const mod = (await import(join(__dirname, file))) as { default: Benchmark };
      log('running');
      for (const row of await mod.default({ workDir, quick, log })) rows.push({ ...row, bench: name });
    } catch (err) {
      failed = true;
      log(`failed: ${(err as Error).stack ?? String(err)}`);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  }
  const table = new Table({ head: ['bench', 'metric', 'ours', 'peer', 'ratio', 'runs', 'note'], style: { head: [], border: [] } });
  const fmt = (n: number | undefined, unit: string) => (n === undefined || Number.isNaN(n) ? '—' : `${n < 10 ? n.toFixed(2) : Math.round(n)} ${unit}`);
  for (const r of rows) {
    const ratio = r.peer ? r.ours / r.peer : undefined;
    table.push([
      r.bench,
      r.metric,
      fmt(r.ours, r.unit),
      r.peer === undefined ? '—' : `${fmt(r.peer, r.unit)} (${r.peerName ?? 'peer'})`,
      ratio === undefined ? '—' : `${ratio.toFixed(2)}×`,
      String(r.runs),
      r.note ?? '',
    ]);
  }
  console.log(table.toString());
  console.log('ratio = ours / peer (below 1.00× is better for times, above 1.00× for throughputs)');
  if (failed) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
