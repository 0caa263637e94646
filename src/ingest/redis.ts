import { Redis, type RedisOptions } from 'ioredis';
import { type Config } from '../config';
import { clientTlsOptions, readPasswordFile } from '../security';

/** The Redis URL of the configuration: the configured one, or the local redis-server `npm start` runs. */
export function redisUrl(config: Config): string {
  return config.redis.url ?? `redis://127.0.0.1:${config.redis.localPort}`;
}

/** Where to connect: a redis:// URL, or the options that make ioredis find the primary through Sentinel. */
export type RedisTarget = string | RedisOptions;

export function redisTarget(config: Config): RedisTarget {
  const { sentinel } = config.redis;
  const security = redisSecurity(config);
  if (!sentinel) {
    const url = redisUrl(config);
    // Nothing beyond the URL configured: the URL alone, as before (credentials may be in it).
    if (!Object.keys(security).length) return url;
    return { ...urlOptions(url), ...security };
  }
  const tls = sentinel.tls || security.tls !== undefined;
  return {
    name: sentinel.name,
    sentinels: sentinel.sentinels,
    ...(security.username ? { username: security.username } : {}),
    ...(security.password ? { password: security.password } : {}),
    ...(sentinel.username ? { username: sentinel.username } : {}),
    ...(sentinel.password ? { password: sentinel.password } : {}),
    ...(sentinel.sentinelPassword ? { sentinelPassword: sentinel.sentinelPassword } : {}),
    ...(tls ? { tls: security.tls ?? {}, sentinelTLS: security.tls ?? {}, enableTLSForSentinelMode: true } : {}),
  };
}

/**
 * AUTH and TLS from the configuration (`redis.username`, `password` / `passwordFile` /
 * DCHAIN_REDIS_PASSWORD, `redis.tls` files), read when a connection is made. The password only goes
 * to ioredis: messages name Redis with describeRedis, which never includes it.
 */
function redisSecurity(config: Config): Pick<RedisOptions, 'username' | 'password' | 'tls'> {
  const { username, password, passwordFile, tls } = config.redis;
  const secret = passwordFile ? readPasswordFile(passwordFile, 'redis.passwordFile') : password;
  const rediss = !config.redis.sentinel && redisUrl(config).startsWith('rediss://');
  return {
    ...(username ? { username } : {}),
    ...(secret ? { password: secret } : {}),
    ...(tls || rediss ? { tls: clientTlsOptions(tls, 'Redis') } : {}),
  };
}

/** A redis:// or rediss:// URL as ioredis options (host, port, db, credentials in it). */
function urlOptions(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : undefined;
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
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
