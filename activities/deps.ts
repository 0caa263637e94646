import { type Redis } from 'ioredis';
import { type Config } from '../src/config';
import { connectRedis, redisTarget } from '../src/ingest';
import { type Logger } from '../src/log';
import { watchRedis } from '../src/redis';
import { type RegistryClient, RegistryDirectory } from '../src/registry';

/** What activity factories are built from; the worker process creates these once. */
export interface ActivityDeps {
  config: Config;
  logger: Logger;
  /** The configured registries, by name or host, with one client each for the process's lifetime. */
  registries: RegistryDirectory;
  /** The client of a configured registry, by name (or host). */
  registry: (name: string) => RegistryClient;
  /** Shared Redis connection (decision store, SBOM store, notification log). */
  redis: Redis;
}

export function createActivityDeps(config: Config, logger: Logger, overrides: Partial<ActivityDeps> = {}): ActivityDeps {
  const registries = overrides.registries ?? new RegistryDirectory(config.registries, { logger });
  const registry = (name: string): RegistryClient => registries.client(name);
  const redis =
    overrides.redis ??
    watchRedis(connectRedis(redisTarget(config), { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true }), logger, 'activities');
  return { config, logger, registries, registry, redis, ...overrides };
}
