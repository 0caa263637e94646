import { existsSync } from 'node:fs';
import { type Redis } from 'ioredis';
import { type Config, loadConfig } from '../src/config';
import { ChainError } from '../src/errors';
import { connectRedis, describeRedis, redisTarget } from '../src/ingest';
import { readStackFile, stackRunning } from '../workers/process/stack-file';

export { connectTemporal, connectWorkflowStarter } from '../workers/temporal/connect';

/**
 * The configuration named by the global --config option (or DCHAIN_CONFIG, or the defaults) — as
 * resolved by the `npm start` stack running on its data directory, if one does: the addresses of
 * what the stack started and its trusted signing key, so `dchain verify` and the others need no
 * flags next to a local stack.
 */
export function cliConfig(opts: { config?: string }): Config {
  const config = loadConfig(opts.config === undefined ? {} : { path: opts.config });
  const stack = readStackFile(config.dataDir);
  if (stack?.config && existsSync(stack.config) && stackRunning(stack)) return loadConfig({ path: stack.config, env: {} });
  return config;
}

/** Runs `fn` with a Redis connection to the configured (or local) Redis; says so clearly when it is down. */
export async function withRedis<T>(config: Config, fn: (redis: Redis) => Promise<T>): Promise<T> {
  // No retries, of the node or of the Sentinels (whose default is to retry forever): a command says at once that Redis is unreachable.
  const redis = connectRedis(redisTarget(config), {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    sentinelRetryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (cause) {
    throw new ChainError('SERVICE_UNREACHABLE', `cannot reach Redis at ${describeRedis(config)}: ${(cause as Error).message}`, { cause });
  }
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/** A numeric option that must be a whole number of at least 1. */
export function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ChainError('BAD_INPUT', `${flag} must be a positive integer (got "${value}")`);
  return n;
}
