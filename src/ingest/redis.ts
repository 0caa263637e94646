import { Redis, type RedisOptions } from 'ioredis';
import { type Config } from '../config';

/** The Redis URL of the configuration: the configured one, or the local redis-server `npm start` runs. */
export function redisUrl(config: Config): string {
  return config.redis.url ?? `redis://127.0.0.1:${config.redis.localPort}`;
}

/** Where to connect: a redis:// URL, or the options that make ioredis find the primary through Sentinel. */
export type RedisTarget = string | RedisOptions;

export function redisTarget(config: Config): RedisTarget {
  const sentinel = config.redis.sentinel;
  if (!sentinel) return redisUrl(config);
  return {
    name: sentinel.name,
    sentinels: sentinel.sentinels,
    ...(sentinel.username ? { username: sentinel.username } : {}),
    ...(sentinel.password ? { password: sentinel.password } : {}),
    ...(sentinel.sentinelPassword ? { sentinelPassword: sentinel.sentinelPassword } : {}),
    ...(sentinel.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
  };
}

/** Where the configuration points, for messages (no credentials). */
export function describeRedis(config: Config): string {
  const sentinel = config.redis.sentinel;
  if (sentinel) return `Sentinel ${sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(',')} (primary "${sentinel.name}")`;
  return redisUrl(config).replace(/\/\/[^@]*@/, '//');
}

/** A connection to the target with these options on top. */
export function connectRedis(target: RedisTarget, options: RedisOptions = {}): Redis {
  return typeof target === 'string' ? new Redis(target, options) : new Redis({ ...target, ...options });
}

/**
 * A connection for producers (the API): commands fail at once while Redis is down (no offline
 * queue) and after 2 s if it hangs, so the API answers 503 instead of holding the sender; it
 * reconnects by itself. A command that timed out but ran is harmless: the sender's retry is
 * deduplicated. No auto-pipelining: the ingest queue batches its own writes (group commit), and
 * an auto-pipeline copies each of BullMQ's scripts per event-loop tick, which cost a quarter of
 * the API's throughput.
 */
export function producerConnection(target: RedisTarget, options: RedisOptions = {}): Redis {
  return connectRedis(target, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 2000, ...options });
}

/** A connection for BullMQ workers: blocking commands wait for Redis to come back. */
export function workerConnection(target: RedisTarget, options: RedisOptions = {}): Redis {
  return connectRedis(target, { maxRetriesPerRequest: null, ...options });
}
