/**
 * `<dataDir>/stack.json`: written by the running `npm start` supervisor only (it holds the stack
 * lock), read by `dchain status`, the CLI's defaults and /healthz. Kept free of heavy imports so
 * the CLI reads it quickly.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const STACK_FILE = 'stack.json';

export interface StackStatus {
  pid: number;
  startedAt?: string;
  /** The running stack's resolved configuration (addresses of what it started, its signing key). */
  config?: string;
  urls: Record<string, string>;
  processes: Record<string, number | undefined>;
  supervised?: Record<string, { pid?: number; state: string; restarts: number; startedAt?: string }>;
}

/** The running stack's file, or undefined when none was written (no stack, or one that is stopping). */
export function readStackFile(dataDir: string): StackStatus | undefined {
  try {
    return JSON.parse(readFileSync(join(resolve(dataDir), STACK_FILE), 'utf8')) as StackStatus;
  } catch {
    return undefined;
  }
}

/** Whether the supervisor that wrote the file still runs. */
export function stackRunning(status: StackStatus): boolean {
  try {
    process.kill(status.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
