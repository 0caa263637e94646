import { type Redis } from 'ioredis';
import { type Config } from '../src/config/schema';
import { ChainError } from '../src/errors/chain-error';
import { connectRedis, redisTarget } from '../src/ingest';
import { type Logger } from '../src/log/logger';
import { watchRedis } from '../src/redis/connection-state';
import { RegistryClient } from '../src/registry';

/** What activity factories are built from; the worker process creates these once. */
export interface ActivityDeps {
  config: Config;
  logger: Logger;
  /** The client of a configured registry, by name; one per registry for the process's lifetime. */
  registry: (name: string) => RegistryClient;
  /** Shared Redis connection (decision store, SBOM store, notification log). */
  redis: Redis;
}

export function createActivityDeps(config: Config, logger: Logger, overrides: Partial<ActivityDeps> = {}): ActivityDeps {
  const clients = new Map<string, RegistryClient>();
  const registry = (name: string): RegistryClient => {
    let client = clients.get(name);
    if (!client) {
      const reg = config.registries.find((r) => r.name === name);
      if (!reg) throw new ChainError('BAD_INPUT', `no registry named "${name}" in the configuration`);
      client = RegistryClient.fromConfig(reg, { logger });
      clients.set(name, client);
    }
    return client;
  };
  const redis = overrides.redis ?? watchRedis(connectRedis(redisTarget(config), { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true }), logger, 'activities');
  return { config, logger, registry, redis, ...overrides };
}
