import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { type Redis } from 'ioredis';
import { createActivityDeps } from '../../../activities/deps';
import { createLifecycleActivities } from '../../../activities/lifecycle';
import { createReconcileActivities } from '../../../activities/reconcile';
import { type Config } from '../../../src/config/schema';
import { producerConnection, workerConnection } from '../../../src/ingest';
import { createLogger } from '../../../src/log/logger';
import { type Api, buildApi } from '../../../workers/api';
import { type IngestWorker, startIngestWorker } from '../../../workers/ingest-worker';
import { freePort } from '../../../workers/local/managed-process';
import { type LocalRedis, startRedis } from '../../../workers/local/redis-server';
import { type LocalRegistry, startRegistry } from '../../../workers/local/registry-server';
import { startTemporalDevServer, type TemporalDevServer } from '../../../workers/local/temporal-dev-server';
import { writeOciImage } from '../../support/images';
import { ingestConfig, SECRET } from './helpers';

/**
 * The whole ingestion path on loopback for one test file: Temporal dev server, Redis (AOF), a
 * docker-registry notifying the webhook API (source "dist"), the API, the queue worker and a
 * Temporal worker running the test `deliveryChain` and the real `reconcile` workflow.
 */
export interface IngestStack {
  /** Stops everything started, in reverse order (call from the test file's `after`). */
  stop(): Promise<void>;
  dataDir: string;
  config: Config;
  temporal: TemporalDevServer;
  redis: LocalRedis;
  registry: LocalRegistry;
  api: Api;
  apiUrl: string;
  client: Client;
  ingest: IngestWorker;
  restartTemporal(downMs: number, during?: () => Promise<void>): Promise<void>;
  restartRegistry(notifyUrl: string): Promise<void>;
  /** Runs of `deliveryChain` per workflow id. */
  chainRuns(): Promise<Map<string, number>>;
  waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
}

const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });

let runtimeInstalled = false;

export async function startIngestStack(): Promise<IngestStack> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    runtimeInstalled = true;
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'dchain-ingest-'));
  const temporalPort = await freePort();
  let temporal = await startTemporalDevServer({ dataDir: join(dataDir, 'temporal'), port: temporalPort, headless: true });
  const redis = await startRedis({ dataDir: join(dataDir, 'redis') });
  const apiPort = await freePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const registryPort = await freePort();
  const notify = (url: string) => ({ url, secret: SECRET });
  let registry = await startRegistry({ name: 'source', dataDir, port: registryPort, notify: notify(`${apiUrl}/webhooks/dist`) });
  const config = ingestConfig({ registryUrl: registry.url, redisUrl: redis.url, temporalAddress: temporal.address });

  const apiRedis: Redis = producerConnection(redis.url);
  apiRedis.on('error', () => undefined);
  const api = await buildApi({ config, logger, redis: apiRedis, plugins: [] });
  await api.app.listen({ host: '127.0.0.1', port: apiPort });

  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const workerRedis = workerConnection(redis.url);
  workerRedis.on('error', () => undefined);
  const ingest = startIngestWorker({ config, logger, client, redis: workerRedis });

  const nativeConnection = await NativeConnection.connect({ address: temporal.address });
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./fixtures/workflows'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
  const activityRedis = workerConnection(redis.url);
  activityRedis.on('error', () => undefined);
  const deps = createActivityDeps(config, logger, { redis: activityRedis });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowBundle,
    activities: { ...createReconcileActivities(deps), ...createLifecycleActivities(deps) },
  });
  const running = worker.run();

  const stop = async () => {
    await ingest.close();
    worker.shutdown();
    await running.catch(() => undefined);
    await nativeConnection.close();
    await connection.close();
    await api.app.close();
    apiRedis.disconnect();
    workerRedis.disconnect();
    deps.redis.disconnect();
    await registry.process.stop();
    await redis.process.stop();
    await temporal.process.stop();
    if (process.env.KEEP_TEST_DATA !== '1') rmSync(dataDir, { recursive: true, force: true });
  };

  const stack: IngestStack = {
    stop,
    dataDir,
    config,
    temporal,
    redis,
    registry,
    api,
    apiUrl,
    client,
    ingest,
    async restartTemporal(downMs, during) {
      await temporal.process.stop();
      const downSince = Date.now();
      await during?.();
      await delay(Math.max(0, downMs - (Date.now() - downSince)));
      temporal = await startTemporalDevServer({ dataDir: join(dataDir, 'temporal'), port: temporalPort, headless: true });
      stack.temporal = temporal;
    },
    async restartRegistry(notifyUrl) {
      await registry.process.stop();
      registry = await startRegistry({ name: 'source', dataDir, port: registryPort, notify: notify(notifyUrl) });
      stack.registry = registry;
    },
    async chainRuns() {
      const runs = new Map<string, number>();
      for await (const execution of client.workflow.list({ query: `WorkflowType = 'deliveryChain'` })) {
        runs.set(execution.workflowId, (runs.get(execution.workflowId) ?? 0) + 1);
      }
      return runs;
    },
    async waitFor(what, probe, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await probe().catch(() => undefined);
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await delay(250);
      }
    },
  };
  return stack;
}

/** A small distinct image in an OCI layout (distinct `marker` → distinct digest). */
export async function tinyImage(dir: string, marker: string, tag = 'latest'): Promise<string> {
  const descriptor = await writeOciImage(dir, { layers: [[{ path: 'marker.txt', content: `${marker}\n` }]], cmd: ['/bin/true'] }, tag);
  return descriptor.digest;
}
