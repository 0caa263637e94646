/**
 * The API process: webhook endpoints (one per configured source), the delivery log, /metrics and
 * /healthz. `buildApi(deps)` builds the Fastify server without listening so tests run it in-process;
 * other rooms add their endpoints as plugins (see API_PLUGINS).
 */
import { type Server as TlsServer } from 'node:tls';
import { Client, Connection } from '@temporalio/client';
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { type Redis } from 'ioredis';
import { type Registry } from 'prom-client';
import { gitWebhookRoutes } from '../src/source-build';
import { type Config, loadConfig } from '../src/config';
import { createIngestMetrics, DeliveryLog, IngestQueue, type IngestMetrics, producerConnection, redisTarget, webhookRoutes } from '../src/ingest';
import { createLogger, type Logger } from '../src/log';
import { watchRedis } from '../src/redis';
import { reloadCertificates, serverTlsOptions } from '../src/security';
import { controlApi } from './control-api';
import { closeOnSignals, runEntryPoint } from './process/entry-point';
import { connectionOptions } from './temporal/connect';
import { withDataConverter } from './temporal/security';
import { HealthChecker } from './process/health';
import { processRegistry } from './process/metrics';
import { signalReady } from './process/ready';

/** A Fastify plugin another room contributes to the API (e.g. the admission endpoint). */
export interface ApiPlugin {
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- plugins bring their own option types
  plugin: FastifyPluginAsync<any>;
  options?: (deps: ApiDeps) => Record<string, unknown>;
}

/** Plugins the API process registers besides the webhook routes. Add one line per plugin. */
export const API_PLUGINS: ApiPlugin[] = [];

export interface ApiDeps {
  config: Config;
  logger: Logger;
  /** A producer connection (see producerConnection): commands fail fast while Redis is down. */
  redis: Redis;
  /** Where the API's metrics are registered; the process passes one with the Node process metrics. */
  metricsRegistry?: Registry;
  /** Extra plugins; defaults to API_PLUGINS. */
  plugins?: ApiPlugin[];
  /** The Temporal client of the control API (`/v1`); without one the API serves webhooks only. */
  temporal?: Client;
}

export interface Api {
  app: FastifyInstance;
  queue: IngestQueue;
  metrics: IngestMetrics;
}

export async function buildApi(deps: ApiDeps): Promise<Api> {
  const { config, logger, redis } = deps;
  const queue = IngestQueue.fromConfig(redis, config.ingest);
  // BullMQ re-emits connection errors; the API reports them as 503s instead of crashing.
  queue.queue.on('error', (err) => logger.debug({ err: err.message }, 'queue connection error'));
  queue.deadLetters.on('error', (err) => logger.debug({ err: err.message }, 'dead-letter queue connection error'));
  const deliveryLog = new DeliveryLog(redis, config.ingest.deliveryLogSize);
  const metrics = createIngestMetrics(() => queue.depth(), deps.metricsRegistry);

  const tls = config.api.tls;
  // With api.tls the API serves HTTPS only, and picks up renewed certificate files by itself.
  const app = (
    tls
      ? Fastify({ logger: false, bodyLimit: config.api.bodyLimitBytes, https: serverTlsOptions(tls) })
      : Fastify({ logger: false, bodyLimit: config.api.bodyLimitBytes })
  ) as FastifyInstance;
  if (tls) {
    const stopReload = reloadCertificates(app.server as unknown as TlsServer, tls, logger, tls.reloadIntervalMs);
    app.addHook('onClose', async () => stopReload());
  }
  app.addHook('onClose', async () => {
    await deliveryLog.flush();
    await queue.close();
  });

  const health = new HealthChecker(config, redis);
  app.addHook('onClose', async () => health.close());
  // Every component, each up or down with the reason; 503 when one is down (see workers/process/health.ts).
  app.get('/healthz', async (_req, reply) => {
    const report = await health.check();
    return reply.code(report.status === 'ok' ? 200 : 503).send(report);
  });
  // The process answers at all (a liveness probe that does not depend on the other components).
  app.get('/livez', async () => ({ status: 'ok' }));
  // Readiness for a balancer or a Service: this replica can take webhooks, which needs Redis and nothing
  // else (an event is durable once queued; workers, Temporal and registries being down delays chains,
  // it must not take the API out of rotation, and /healthz would).
  app.get('/readyz', async (_req, reply) => {
    try {
      await Promise.race([redis.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 2000 ms')), 2000).unref())]);
      return { status: 'ready' };
    } catch (err) {
      return reply.code(503).send({ status: 'not ready', detail: `redis: ${err instanceof Error ? err.message : String(err)}` });
    }
  });
  app.get('/metrics', async (_req, reply) => reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()));

  await app.register(webhookRoutes, { config, queue, deliveryLog, metrics, logger: logger.child({ component: 'webhooks' }) });
  // Git pushes share the queue, delivery log and metrics of registry pushes.
  await app.register(gitWebhookRoutes, { config, queue, deliveryLog, metrics, logger: logger.child({ component: 'git-webhooks' }) });
  if (deps.temporal) {
    // The control API: chains, scans, decisions, rescans, audit; tokens and policies decide who may do what.
    await app.register(controlApi, { config, logger: logger.child({ component: 'control-api' }), redis, client: deps.temporal, queue });
  }
  for (const extra of deps.plugins ?? API_PLUGINS) {
    await app.register(extra.plugin, extra.options?.(deps) ?? {});
    logger.debug({ plugin: extra.name }, 'API plugin registered');
  }
  return { app, queue, metrics };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.log.level, name: 'api' });
  const redis = watchRedis(producerConnection(redisTarget(config)), logger, 'api');
  // Lazy: the API starts (webhooks keep flowing into Redis) while Temporal is still coming up.
  const connection = Connection.lazy(connectionOptions(config));
  // The payload codec (temporal.codec), as on every client: scan results and memos are decoded with it.
  const temporal = new Client({ connection, namespace: config.temporal.namespace, ...withDataConverter(config) });
  const { app } = await buildApi({ config, logger, redis, metricsRegistry: processRegistry(), temporal });
  await app.listen({ host: config.api.host, port: config.api.port });
  logger.info(
    { url: `${config.api.tls ? 'https' : 'http'}://${config.api.host}:${config.api.port}`, sources: config.sources.map((s) => s.name) },
    'webhook API listening',
  );
  signalReady();
  closeOnSignals(
    async () => {
      await app.close();
      await connection.close();
      redis.disconnect();
      logger.info('webhook API stopped');
    },
    (reason) => logger.info({ reason }, 'webhook API stopping'),
  );
}

if (require.main === module) runEntryPoint('api', main);
