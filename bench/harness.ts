import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

/** What every bench/*.bench.ts returns: one row per metric, ours beside the real peer's figure. */
export interface BenchRow {
  metric: string;
  /** Median of `runs` measurements, in `unit`. */
  ours: number;
  peer?: number;
  peerName?: string;
  unit: string;
  runs: number;
  /** Lower is better for times and latencies; set false for throughputs. */
  lowerIsBetter?: boolean;
  note?: string;
}

export interface BenchContext {
  /** A scratch directory for this benchmark, removed afterwards. */
  workDir: string;
  /** Smaller sizes and fewer runs (`npm run bench -- --quick`). */
  quick: boolean;
  log: (msg: string) => void;
}

export type Benchmark = (ctx: BenchContext) => Promise<BenchRow[]>;

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Wall time of `fn` in milliseconds. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Runs ours and peer alternately `runs` times so both see the same machine state; returns medians. */
export async function alternate(
  runs: number,
  ours: () => Promise<unknown>,
  peer: () => Promise<unknown>,
  before?: () => Promise<void>,
): Promise<{ ours: number; peer: number; oursAll: number[]; peerAll: number[] }> {
  const oursAll: number[] = [];
  const peerAll: number[] = [];
  for (let i = 0; i < runs; i++) {
    await before?.();
    oursAll.push(await timeMs(ours));
    await before?.();
    peerAll.push(await timeMs(peer));
  }
  return { ours: median(oursAll), peer: median(peerAll), oursAll, peerAll };
}

/**
 * The compiled entry point `entry` (like 'workers/temporal-worker') in dist/, built first with
 * `npm run build` when there is no build or it is older than a source (bin/launch.js's rule): what
 * production runs (the README's Production section, the Dockerfile), rather than the sources through
 * tsx, whose transform wraps every function made at run time in a naming helper (2.8 s of a profiled
 * first full rescan went to it alone). A stale build is never measured.
 */
export async function compiledEntry(entry: string, log: (msg: string) => void): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- plain CommonJS, shared with bin/*.js
  const { compiled } = require('../bin/launch.js') as { compiled: (entry: string) => string | undefined };
  const current = compiled(entry);
  if (current) return current;
  log('building dist/ (npm run build): the build is missing or older than a source');
  await promisify(execFile)('npm', ['run', 'build'], { cwd: resolve(__dirname, '..'), timeout: 600_000 });
  const built = compiled(entry);
  if (!built) throw new Error(`npm run build made no current dist/${entry}.js`);
  return built;
}
