/**
 * The queue worker process: takes accepted events off the ingestion queue and starts (or joins)
 * their delivery chain in Temporal, one workflow per image digest. While Temporal is down the job
 * is retried with capped backoff; jobs that can never succeed go to the dead-letter queue.
 * It also keeps the reconciliation schedule in place.
 */
import { type Client } from '@temporalio/client';
import { Worker } from 'bullmq';
import { type Redis } from 'ioredis';
import { type Config, loadConfig } from '../src/config';
import { cappedBackoff, createIngestProcessor, durationMs, INGEST_QUEUE_NAME, IngestQueue, type IngestJob, redisTarget, workerConnection } from '../src/ingest';
import { createLogger, type Logger } from '../src/log';
import { watchRedis } from '../src/redis';
import { closeOnSignals, runEntryPoint } from './process/entry-point';
import { createIngestWorkerMetrics } from './process/ingest-metrics';
import { processRegistry, serveMetrics } from './process/metrics';
import { signalReady } from './process/ready';
import { TemporalChainStarter } from './temporal/chain-starter';
import { connectTemporalRetrying } from './temporal/connect';
import { ensureReconcileSchedule } from './temporal/schedules';

export interface IngestWorkerOptions {
  config: Config;
  logger: Logger;
  client: Client;
  /** Defaults to a new connection to the configured Redis. */
  redis?: Redis;
}

export interface IngestWorker {
  worker: Worker<IngestJob>;
  queue: IngestQueue;
  close(): Promise<void>;
}

export function startIngestWorker(options: IngestWorkerOptions): IngestWorker {
  const { config, logger } = options;
  const connection = options.redis ?? watchRedis(workerConnection(redisTarget(config)), logger, 'ingest-queue');
  const queue = IngestQueue.fromConfig(connection, config.ingest);
  // BullMQ re-emits its connections' errors; the outage itself is logged once by watchRedis.
  queue.queue.on('error', (err) => logger.debug({ err: err.message }, 'queue connection error'));
  queue.deadLetters.on('error', (err) => logger.debug({ err: err.message }, 'dead-letter queue connection error'));
  const processor = createIngestProcessor({ starter: new TemporalChainStarter(options.client, config.temporal.taskQueue), queue, logger });
  const backoff = cappedBackoff(durationMs(config.ingest.maxBackoff));
  const blocking = watchRedis(connection.duplicate({ maxRetriesPerRequest: null }), logger, 'ingest-worker');
  const worker = new Worker<IngestJob>(INGEST_QUEUE_NAME, processor, {
    connection: blocking,
    concurrency: config.ingest.workerConcurrency,
    settings: { backoffStrategy: (attemptsMade: number) => backoff(attemptsMade) },
  });
  worker.on('error', (err) => logger.debug({ err: err.message }, 'ingestion worker connection error'));
  return {
    worker,
    queue,
    async close() {
      await worker.close();
      await queue.close();
      blocking.disconnect();
      if (!options.redis) connection.disconnect();
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.log.level, name: 'ingest-worker' });
  const { client } = await connectTemporalRetrying(config, logger);
  await ensureReconcileSchedule(client, config);
  const running = startIngestWorker({ config, logger, client });
  const metrics = processRegistry();
  const { jobs } = createIngestWorkerMetrics(metrics, running.queue);
  running.worker.on('completed', () => jobs.inc({ outcome: 'completed' }));
  running.worker.on('failed', () => jobs.inc({ outcome: 'failed' }));
  const metricsListener = await serveMetrics(metrics, config.metrics.host, config.metrics.ingestWorkerPort);
  logger.info({ queue: INGEST_QUEUE_NAME, taskQueue: config.temporal.taskQueue, reconcileEvery: config.ingest.reconcileInterval }, 'ingestion worker running');
  signalReady();
  closeOnSignals(
    async () => {
      await running.close();
      await Promise.all([client.connection.close(), metricsListener.close()]);
      logger.info('ingestion worker stopped');
    },
    (reason) => logger.info({ reason }, 'ingestion worker stopping'),
  );
}

if (require.main === module) runEntryPoint('ingest-worker', main);
