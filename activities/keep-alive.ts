import { Context } from '@temporalio/activity';

/** How often a kept-alive activity heartbeats (its heartbeat timeout in the workflow is 20 s). */
export const KEEP_ALIVE_MS = 5_000;

/**
 * Runs an activity that does not report progress of its own while a timer heartbeats for it. With
 * a heartbeat timeout on the workflow side, a worker killed mid-activity is then noticed within
 * that timeout and the next attempt runs elsewhere, instead of waiting out the start-to-close
 * timeout (minutes). Outside an activity (unit tests calling the function directly) it just runs.
 */
export function keepAlive<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    let ctx: Context;
    try {
      ctx = Context.current();
    } catch {
      return fn(...args);
    }
    const alive = setInterval(() => ctx.heartbeat(), KEEP_ALIVE_MS);
    try {
      return await fn(...args);
    } finally {
      clearInterval(alive);
    }
  };
}
