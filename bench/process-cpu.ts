/**
 * Where the CPU time goes: every process below this one, grouped by what it is (Temporal server,
 * PostgreSQL, Redis, our processes…), from /proc/<pid>/stat. A process's figure is its own user+system
 * time plus that of the children it has reaped (cutime/cstime), so the short-lived helpers a worker
 * runs (cosign, skopeo) are counted with the worker that ran them. Linux only.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime, in clock ticks. */
  own: number;
  /** cutime + cstime: reaped children. */
  reaped: number;
  cmdline: string;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may itself hold spaces or parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const num = (i: number) => Number(fields[i - 3]);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    return { pid, ppid: num(4), own: num(14) + num(15), reaped: num(16) + num(17), cmdline };
  } catch {
    return undefined; // exited while we looked
  }
}

/** CPU milliseconds of one process: its own (utime + stime) and its reaped children's (cutime + cstime). */
export function processCpuMs(pid: number | 'self'): { own: number; reaped: number } {
  const stat = readStat(pid === 'self' ? process.pid : pid);
  if (!stat) throw new Error(`no process ${pid} to read the CPU time of`);
  return { own: (stat.own * 1000) / TICKS_PER_SECOND, reaped: (stat.reaped * 1000) / TICKS_PER_SECOND };
}

/** A name for what a process is, from its command line; undefined = counted with its parent. */
export type Classifier = (cmdline: string) => string | undefined;

export const classifyStackProcess: Classifier = (cmd) => {
  if (/temporal-server|temporal server start-dev|\btemporal\b.*start-dev/.test(cmd)) return 'temporal';
  if (/\bpostgres\b|postmaster|pg_ctl/.test(cmd)) return 'postgresql';
  if (/redis-(server|sentinel)/.test(cmd)) return 'redis';
  if (/haproxy/.test(cmd)) return 'haproxy';
  if (/docker-registry|registry serve/.test(cmd)) return 'registries';
  if (/workers\/api\.(ts|js)/.test(cmd)) return 'api';
  if (/ingest-worker\.(ts|js)/.test(cmd)) return 'ingest worker';
  if (/temporal-worker\.(ts|js).*--role=scan/.test(cmd)) return 'scan worker';
  if (/temporal-worker\.(ts|js).*--role=chain/.test(cmd)) return 'chain worker';
  if (/temporal-worker\.(ts|js)/.test(cmd)) return 'worker (chain + scan)';
  return undefined;
};

export type CpuSnapshot = Map<string, number>;

/** CPU seconds by group for every process under `root` (the root's own time under `self`). */
export function cpuSnapshot(classify: Classifier = classifyStackProcess, root = process.pid, self = 'load generator (bench)'): CpuSnapshot {
  const all = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) all.set(stat.pid, stat);
  }
  const children = new Map<number, ProcStat[]>();
  for (const stat of all.values()) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  const totals: CpuSnapshot = new Map();
  const add = (group: string, ticks: number) => totals.set(group, (totals.get(group) ?? 0) + ticks / TICKS_PER_SECOND);
  const rootStat = all.get(root);
  // The bench's own reaped children are services stopped earlier: not part of what is measured now.
  if (rootStat) add(self, rootStat.own);
  const walk = (pid: number, inherited: string) => {
    for (const child of children.get(pid) ?? []) {
      const group = classify(child.cmdline) ?? inherited;
      add(group, child.own + child.reaped);
      walk(child.pid, group);
    }
  };
  walk(root, 'other');
  return totals;
}

/** CPU seconds spent by each group between two snapshots (groups that did not move are left out). */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): Array<{ group: string; seconds: number }> {
  return [...after.entries()]
    .map(([group, seconds]) => ({ group, seconds: seconds - (before.get(group) ?? 0) }))
    .filter((d) => d.seconds > 0.005)
    .sort((a, b) => b.seconds - a.seconds);
}
