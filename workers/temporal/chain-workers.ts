/**
 * The chain's Temporal workers: the workflows and activities on `temporal.taskQueue`, the scan
 * activities on `<taskQueue>-scan` (CPU-heavy: give them their own processes with `--role scan`).
 * Workers that run the workflows also keep the rescan schedule in line with the configuration.
 */
import { Client } from '@temporalio/client';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { type Registry } from 'prom-client';
import { createActivities } from '../../activities';
import { type ActivityDeps, createActivityDeps } from '../../activities/deps';
import { SCHEDULE_IDS } from '../../src/chain';
import { type Config } from '../../src/config';
import { ChainError } from '../../src/errors';
import { type Logger } from '../../src/log';
import { DecisionStore } from '../../src/policy';
import { scanTaskQueue } from '../../workflows/task-queues';
import { chainMetricsInterceptor } from './chain-metrics';
import { connectWorker } from './connect';
import { installTemporalRuntime } from './runtime';
import { ensureRescanSchedule } from './schedules';
import { withDataConverter } from './security';

export type WorkerRole = 'all' | 'chain' | 'scan';

export interface ChainWorkerOptions {
  config: Config;
  logger: Logger;
  role?: WorkerRole;
  connection?: NativeConnection;
  /** A prebuilt workflow bundle (tests build it once per file). */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** The activity factories' dependencies; by default created from the configuration. */
  deps?: ActivityDeps;
  /** Where the chain's metrics (stage durations, verdicts, rescan results) are registered. */
  metrics?: Registry;
}

/** The workers of this process; run them with `Promise.all(workers.map((w) => w.run()))`. */
export async function createChainWorkers(options: ChainWorkerOptions): Promise<Worker[]> {
  const { config, logger } = options;
  installTemporalRuntime(logger);
  const connection = options.connection ?? (await connectWorker(config));
  const deps = options.deps ?? createActivityDeps(config, logger);
  const activities = createActivities(deps);
  const role = options.role ?? 'all';
  const workers: Worker[] = [];
  // In-flight activities get a few seconds to finish at shutdown; the process exits within its deadline either way.
  const common = {
    connection,
    namespace: config.temporal.namespace,
    // The payload codec (temporal.codec): what the workers write to histories is encrypted like the clients'.
    ...withDataConverter(config),
    shutdownGraceTime: '4s',
    shutdownForceTime: '7s',
    ...(options.metrics ? { interceptors: { activity: [chainMetricsInterceptor(options.metrics)] } } : {}),
  };
  if (role === 'all' || role === 'chain') {
    await keepRescanSchedule(new Client({ connection, namespace: config.temporal.namespace, ...withDataConverter(config) }), config, logger);
    await backfillDecisionIndex(deps, logger);
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: config.temporal.taskQueue,
        ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: require.resolve('../../workflows') }),
        activities,
      }),
    );
  }
  if (role === 'all' || role === 'scan') {
    workers.push(await Worker.create({ ...common, taskQueue: scanTaskQueue(config.temporal.taskQueue), activities, maxConcurrentActivityTaskExecutions: 2 }));
  }
  return workers;
}

/**
 * Creates or updates the rescan schedule. A failure (Temporal refusing the schedule, a namespace
 * without schedules) is logged and the worker runs anyway: the chain does not depend on it, and the
 * next worker start tries again.
 */
async function keepRescanSchedule(client: Client, config: Config, logger: Logger): Promise<void> {
  const fields = { scheduleId: SCHEDULE_IDS.rescan, enabled: config.rescan.enabled, every: config.rescan.interval };
  try {
    const schedule = await ensureRescanSchedule(client, config);
    logger.info(fields, `rescan schedule ${schedule}`);
  } catch (cause) {
    const err = new ChainError('SERVICE_START_FAILED', `the rescan schedule ${SCHEDULE_IDS.rescan} could not be created or updated`, { cause });
    logger.error({ ...fields, err }, 'rescan schedule not set up; the worker runs without it until a start that succeeds');
  }
}

/**
 * Lists decisions recorded before the rescan's digest index existed in it, once (a marker says it
 * ran). Outside any activity: no attempt timeout, no heartbeat. A failure leaves those digests out
 * of rescans until a worker start that succeeds; the worker runs anyway.
 */
async function backfillDecisionIndex(deps: ActivityDeps, logger: Logger): Promise<void> {
  try {
    const { ran, digests } = await new DecisionStore(deps.redis).backfillIndex();
    if (ran) logger.info({ digests }, 'decision index backfilled for the rescan');
  } catch (err) {
    logger.error({ err }, 'decision index backfill failed; decisions recorded before the index are not rescanned until it succeeds at a worker start');
  }
}
