import { type Redis } from 'ioredis';
import { type Logger } from '../log';

/**
 * Handles a Redis connection's errors and logs its state changes: one structured warn when it goes
 * down, one info when it is back, nothing per reconnect attempt. Without an `error` listener ioredis
 * prints a stack trace ("[ioredis] Unhandled error event") on every retry of an outage.
 * Returns the connection, so it wraps the place a connection is made.
 */
export function watchRedis(redis: Redis, logger: Logger, connection: string): Redis {
  let up: boolean | undefined;
  redis.on('error', (err: Error & { code?: string }) => {
    if (up === false) return;
    up = false;
    logger.warn({ connection, err: err.message, code: err.code }, 'Redis unreachable; reconnecting in the background (logged again once it is back)');
  });
  redis.on('ready', () => {
    if (up === false) logger.info({ connection }, 'Redis reachable again');
    up = true;
  });
  return redis;
}
