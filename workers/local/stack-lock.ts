import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { ChainError } from '../../src/errors';

/**
 * One running stack per data directory: `<dataDir>/run/stack.lock` holds the supervisor's pid,
 * created exclusively. A second `npm start` is refused before it touches anything the first one
 * owns (stack.json, ready files, ports); a lock left by a stack that died is taken over.
 */
export class StackLock {
  private constructor(private readonly file: string) {}

  static acquire(file: string): StackLock {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx', 0o644);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return new StackLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const holder = lockHolder(file);
        if (holder !== undefined && holder !== process.pid && stackAlive(holder)) {
          throw new ChainError(
            'SERVICE_START_FAILED',
            `a stack already runs on this data directory (pid ${holder}, ${file}); stop it first, or use another dataDir`,
            { retryable: false },
          );
        }
        // Left by a stack that was killed: nobody holds it.
        rmSync(file, { force: true });
      }
    }
    throw new ChainError('SERVICE_START_FAILED', `cannot take the stack lock ${file}`, { retryable: false });
  }

  /** Removes the lock if it is still ours. */
  release(): void {
    if (lockHolder(this.file) === process.pid) rmSync(this.file, { force: true });
  }
}

export function lockHolder(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is a live process that can be a stack supervisor. On Linux its command line must
 * name the stack entry point, so a pid reused by an unrelated process after a crash does not count.
 */
export function stackAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return /stack\.(?:ts|js)/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true;
  }
}
