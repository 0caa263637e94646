/**
 * The queue worker process: takes accepted events off the ingestion queue and starts (or joins)
 * their delivery chain in Temporal, one workflow per image digest. While Temporal is down the job
 * is retried with capped backoff; jobs that can never succeed go to the dead-letter queue.
 * It also keeps the reconciliation schedule in place.
 */
import { Client, Connection, isGrpcServiceError, ScheduleAlreadyRunning, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { Worker } from 'bullmq';
import { type Redis } from 'ioredis';
import { startBuildChain } from '../src/source-build/start-chain';
import { loadConfig } from '../src/config/load';
import { type Config } from '../src/config/schema';
import { ChainError } from '../src/errors/chain-error';
import { type AddTagsSignal, type ChainInput, chainWorkflowId, SCHEDULE_IDS, SIGNALS, WORKFLOW_TYPES } from '../src/chain';
import {
  cappedBackoff,
  type ChainStarter,
  createIngestProcessor,
  durationMs,
  INGEST_QUEUE_NAME,
  IngestQueue,
  type IngestJob,
  redisTarget,
  type BuildJob,
  type StartMode,
  type StartOutcome,
  workerConnection,
} from '../src/ingest';
import { createLogger, type Logger } from '../src/log/logger';
import { DcRepositoryName } from '../workflows/search-attributes';
import { watchRedis } from '../src/redis/connection-state';
import { deliverNewTags, lastRun, startNewRun } from './chain-control';
import { closeOnSignals, runEntryPoint } from './entry-point';
import { createIngestWorkerMetrics } from './ingest-metrics';
import { processRegistry, serveMetrics } from './metrics';
import { signalReady } from './ready';

/** gRPC codes that no retry will fix (a bad request, not an unreachable server). */
const PERMANENT_GRPC_CODES = new Set([3 /* INVALID_ARGUMENT */, 7 /* PERMISSION_DENIED */, 12 /* UNIMPLEMENTED */, 16 /* UNAUTHENTICATED */]);

/**
 * Starts chains under the lifecycle rules. A first push: signal-with-start of the workflow
 * `chain:<registry>/<repository>@<digest>` (conflict policy USE_EXISTING: a running chain gets the
 * `addTags` signal; the chain keeps tags as a set). A digest whose chain already ended: new tags of
 * a delivered digest go to the tag-delivery path; a blocked one keeps waiting (its tags are
 * recorded by the queue); a failed one runs again (`retry` jobs come after the queue's backoff and
 * within its cap). `unblock` starts a blocked chain again after its verdict changed.
 */
export class TemporalChainStarter implements ChainStarter {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  async startOrSignal(input: ChainInput, tags: string[], mode: StartMode = 'start'): Promise<StartOutcome> {
    const workflowId = chainWorkflowId(input);
    try {
      if (mode === 'start') {
        try {
          await this.client.workflow.signalWithStart<(i: ChainInput) => Promise<unknown>, [AddTagsSignal]>(WORKFLOW_TYPES.deliveryChain, {
            workflowId,
            taskQueue: this.taskQueue,
            args: [input],
            signal: SIGNALS.addTags,
            signalArgs: [{ tags }],
            workflowIdConflictPolicy: 'USE_EXISTING',
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
            typedSearchAttributes: [{ key: DcRepositoryName, value: input.repository }],
          });
          return 'running';
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        }
      }
      const last = await lastRun(this.client, workflowId);
      if (!last) return mode === 'start' ? 'closed' : this.restart(workflowId, this.taskQueue, input, tags);
      switch (last.state) {
        case 'running':
          await this.client.workflow.getHandle(workflowId).signal(SIGNALS.addTags, { tags });
          return 'running';
        case 'delivered':
          if (tags.length === 0) return 'closed';
          await deliverNewTags(this.client, last.taskQueue, { registry: input.registry, repository: input.repository, digest: input.digest, tags });
          return 'tags-delivering';
        case 'blocked':
          return mode === 'unblock' ? this.restart(workflowId, last.taskQueue, input, tags) : 'blocked';
        case 'failed':
          // A start for a failed chain comes when the queue had no record of it (expired): run again.
          return mode === 'unblock' ? 'closed' : this.restart(workflowId, last.taskQueue, input, tags);
      }
    } catch (err) {
      if (err instanceof ChainError) throw err;
      const code = isGrpcServiceError(err) ? err.code : isGrpcServiceError((err as { cause?: unknown }).cause) ? ((err as { cause: { code: number } }).cause.code) : undefined;
      const message = `cannot start ${workflowId}: ${(err as Error).message}`;
      if (code !== undefined && PERMANENT_GRPC_CODES.has(code)) throw new ChainError('BAD_INPUT', message, { cause: err, retryable: false });
      throw new ChainError('SERVICE_UNREACHABLE', message, { cause: err });
    }
  }

  async startBuild(job: BuildJob): Promise<StartOutcome> {
    try {
      const started = await startBuildChain(this.client, { temporal: { taskQueue: this.taskQueue } }, job.build, () => new Date(job.pushedAt));
      // Already started: it runs or delivered (a failed one was started again); either way there is nothing more to do.
      return started.outcome === 'started' ? 'running' : 'closed';
    } catch (err) {
      if (err instanceof ChainError) throw err;
      throw new ChainError('SERVICE_UNREACHABLE', `cannot start the build of ${job.build.repoUrl}: ${(err as Error).message}`, { cause: err });
    }
  }

  private async restart(workflowId: string, taskQueue: string, input: ChainInput, tags: string[]): Promise<StartOutcome> {
    await startNewRun(this.client, workflowId, taskQueue, input, { name: SIGNALS.addTags, args: [{ tags }] });
    return 'restarted';
  }
}

/** Creates the reconciliation schedule, or updates its interval if it exists. */
export async function ensureReconcileSchedule(client: Client, config: Config): Promise<void> {
  const spec = { intervals: [{ every: config.ingest.reconcileInterval }] };
  try {
    await client.schedule.create({
      scheduleId: SCHEDULE_IDS.reconcile,
      spec,
      action: { type: 'startWorkflow', workflowType: WORKFLOW_TYPES.reconcile, taskQueue: config.temporal.taskQueue, args: [] },
      policies: { overlap: 'SKIP' },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(SCHEDULE_IDS.reconcile).update((previous) => ({ ...previous, spec }));
  }
}

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

/** Connects to Temporal, retrying until it answers: the worker may start before the server. */
async function connectClient(config: Config, logger: Logger): Promise<Client> {
  const address = config.temporal.address;
  if (!address) throw new ChainError('CONFIG_INVALID', 'temporal.address is not set (npm start sets it for the local dev server)');
  for (let attempt = 1; ; attempt++) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: config.temporal.connectTimeoutMs });
      return new Client({ connection, namespace: config.temporal.namespace });
    } catch (err) {
      logger.warn({ address, attempt, err: (err as Error).message }, 'Temporal not reachable yet');
      await new Promise((r) => setTimeout(r, Math.min(1000 * attempt, 10_000)));
    }
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.log.level, name: 'ingest-worker' });
  const client = await connectClient(config, logger);
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
