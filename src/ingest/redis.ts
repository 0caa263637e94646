import { Redis, type RedisOptions } from 'ioredis';
import { type Config } from '../config/schema';

/** The Redis URL of the configuration: the configured one, or the local redis-server `npm start` runs. */
export function redisUrl(config: Config): string {
  return config.redis.url ?? `redis://127.0.0.1:${config.redis.localPort}`;
}

/**
 * A connection for producers (the API): commands fail at once while Redis is down (no offline
 * queue) and after 2 s if it hangs, so the API answers 503 instead of holding the sender; it
 * reconnects by itself. A command that timed out but ran is harmless: the sender's retry is
 * deduplicated. No auto-pipelining: the ingest queue batches its own writes (group commit), and
 * an auto-pipeline copies each of BullMQ's scripts per event-loop tick, which cost a quarter of
 * the API's throughput.
 */
export function producerConnection(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 2000, ...options });
}

/** A connection for BullMQ workers: blocking commands wait for Redis to come back. */
export function workerConnection(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, ...options });
}
