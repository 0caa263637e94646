/**
 * CLI start-up: `dchain --help` from the compiled build (bin/dchain.js picks dist/ when it is
 * current), beside Go binaries that start with no runtime at all: `crane --help` and
 * `osv-scanner --help` when installed in .tools/bin. Also the same command through tsx, what
 * `npx dchain` costs without `npm run build`.
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { findTool } from '../workers/local/tools';
import { alternate, type Benchmark, type BenchRow, compiledEntry, median, timeMs } from './harness';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..');

const benchmark: Benchmark = async ({ quick, log }) => {
  const runs = quick ? 5 : 15;
  // A current build: bin/dchain.js runs a stale one's sources through tsx, which would be timed as compiled.
  await compiledEntry('cli/dchain', log);
  const dchain = () => run(process.execPath, [join(ROOT, 'bin', 'dchain.js'), '--help'], { cwd: ROOT });
  const rows: BenchRow[] = [];
  for (const peerName of ['crane', 'osv-scanner']) {
    const peer = findTool(peerName);
    if (!peer) {
      log(`${peerName} not installed; skipped`);
      continue;
    }
    const r = await alternate(runs, dchain, () => run(peer, ['--help'], { cwd: ROOT }));
    rows.push({ metric: `dchain --help (compiled), next to ${peerName} --help`, ours: r.ours, peer: r.peer, peerName: `${peerName} --help`, unit: 'ms', runs });
  }
  const fromSource: number[] = [];
  for (let i = 0; i < Math.min(3, runs); i++) {
    fromSource.push(
      await timeMs(() => run(process.execPath, [join(ROOT, 'bin', 'dchain.js'), '--help'], { cwd: ROOT, env: { ...process.env, DCHAIN_FROM_SOURCE: '1' } })),
    );
  }
  rows.push({
    metric: 'dchain --help through tsx (no build)',
    ours: median(fromSource),
    unit: 'ms',
    runs: fromSource.length,
    note: 'target: compiled ≤ 300 ms',
  });
  return rows;
};

export default benchmark;
