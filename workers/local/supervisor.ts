import { setTimeout as delay } from 'node:timers/promises';
import { type Logger } from '../../src/log';
import { ManagedProcess, type ServiceProcess } from './managed-process';

export type ChildState = 'running' | 'restarting' | 'stopped';

export interface ChildStatus {
  pid: number | undefined;
  state: ChildState;
  /** Restarts after a crash since the stack started. */
  restarts: number;
  startedAt: string;
  lastExit?: { code: number | null; signal: string | null; at: string };
}

export interface SupervisorOptions {
  logger: Logger;
  /** Called whenever a child's pid or state changes (the stack rewrites stack.json). */
  onChange?: () => void;
  /** Whole-stack stop budget; what is still running when it runs out is SIGKILLed. */
  stopDeadlineMs?: number;
  /** First restart delay, doubled per consecutive crash up to `maxBackoffMs`. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/** A child that stayed up this long is healthy again: its next crash restarts it at the first delay. */
const STABLE_AFTER_MS = 60_000;
/** What one child gets between SIGTERM and SIGKILL when the budget allows. */
const PER_CHILD_GRACE_MS = 10_000;

interface Entry {
  proc: ServiceProcess;
  status: ChildStatus;
  consecutive: number;
}

/**
 * Keeps the stack's children running: a child that exits on its own is started again (same ports,
 * same data) after a delay that doubles per consecutive crash, and each crash and restart is logged.
 * `stop()` stops them in reverse start order — dependents before what they depend on — within one
 * deadline, then SIGKILLs what is left. Children are added in start order, each once it is ready.
 */
export class Supervisor {
  private readonly entries: Entry[] = [];
  private stopping = false;
  private readonly abort = new AbortController();

  constructor(private readonly options: SupervisorOptions) {}

  add(proc: ServiceProcess): void {
    const entry: Entry = { proc, consecutive: 0, status: { pid: proc.pid, state: 'running', restarts: 0, startedAt: new Date().toISOString() } };
    this.entries.push(entry);
    if (proc instanceof ManagedProcess) proc.onUnexpectedExit = (code, signal) => void this.restart(entry, code, signal);
  }

  get children(): readonly ServiceProcess[] {
    return this.entries.map((e) => e.proc);
  }

  statuses(): Record<string, ChildStatus> {
    return Object.fromEntries(this.entries.map((e) => [e.proc.name, { ...e.status }]));
  }

  private async restart(entry: Entry, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    // A crash while a restart is under way is that restart failing; its own catch retries.
    if (this.stopping || entry.status.state === 'restarting') return;
    const { logger, initialBackoffMs = 1000, maxBackoffMs = 30_000 } = this.options;
    if (Date.now() - Date.parse(entry.status.startedAt) >= STABLE_AFTER_MS) entry.consecutive = 0;
    entry.status = { ...entry.status, state: 'restarting', pid: undefined, lastExit: { code, signal, at: new Date().toISOString() } };
    this.options.onChange?.();
    for (;;) {
      const delayMs = Math.min(maxBackoffMs, initialBackoffMs * 2 ** entry.consecutive);
      entry.consecutive++;
      entry.status.restarts++;
      logger.warn({ process: entry.proc.name, code, signal, restarts: entry.status.restarts, delayMs }, 'process exited unexpectedly; restarting it');
      try {
        await delay(delayMs, undefined, { signal: this.abort.signal });
      } catch {
        return;
      }
      if (this.stopping) return;
      try {
        await entry.proc.start();
      } catch (err) {
        if (this.stopping) return;
        logger.error({ process: entry.proc.name, err: (err as Error).message }, 'restart failed; trying again');
        continue;
      }
      if (this.stopping) return;
      entry.status = { ...entry.status, state: 'running', pid: entry.proc.pid, startedAt: new Date().toISOString() };
      logger.info({ process: entry.proc.name, pid: entry.proc.pid, restarts: entry.status.restarts }, 'process restarted');
      this.options.onChange?.();
      return;
    }
  }

  /** Stops every child, dependents first; safe to call twice. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    const deadline = Date.now() + (this.options.stopDeadlineMs ?? 12_000);
    for (const entry of [...this.entries].reverse()) {
      const remaining = deadline - Date.now();
      await entry.proc.stop(Math.min(PER_CHILD_GRACE_MS, Math.max(0, remaining)));
      entry.status = { ...entry.status, state: 'stopped', pid: undefined };
    }
  }
}
