import { type Command } from 'commander';
import { connectRedis, redisTarget } from '../../src/ingest';
import { InventoryStore, KubeApi, kubeApiSettings, watchPods } from '../../src/inventory';
import { createLogger } from '../../src/log';
import { cliConfig } from '../context';

/**
 * `dchain inventory watch`: the pod watcher, a process of its own (one per cluster, next to the
 * admission webhook, with the `dchain-inventory` service account of deploy/kubernetes/). It is kept
 * apart from admission so that the webhook's pods need no API credentials and no watch can slow a
 * decision. Runs until SIGINT/SIGTERM.
 */
export function register(program: Command): void {
  program
    .command('inventory')
    .description('the inventory of deployed images')
    .command('watch')
    .description("list and watch the API server's pods, recording which digests run where (inventory.* settings)")
    .action(async () => {
      const config = cliConfig(program.opts());
      const logger = createLogger({ level: config.log.level });
      const api = new KubeApi(kubeApiSettings(config.inventory));
      const redis = connectRedis(redisTarget(config), { maxRetriesPerRequest: 3 });
      redis.on('error', (err) => logger.warn({ err: err.message }, 'inventory: Redis connection error'));
      const stop = new AbortController();
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
      logger.info({ cluster: config.inventory.cluster }, 'inventory: watching pods');
      try {
        await watchPods({ cluster: config.inventory.cluster, api, store: new InventoryStore(redis), logger }, stop.signal);
      } finally {
        redis.disconnect();
      }
      logger.info('inventory: stopped');
    });
}
