/**
 * The Temporal worker process: runs the chain's workflows and activities on `temporal.taskQueue`
 * and the scan activities on `<taskQueue>-scan` (scanning is CPU-heavy; give it its own
 * workers with `--role scan`). Workers that run the workflows also keep the rescan schedule in
 * line with the configuration. Exits non-zero on error.
 */
import { createActivityDeps } from '../activities/deps';
import { loadConfig } from '../src/config';
import { ChainError } from '../src/errors';
import { createLogger } from '../src/log';
import { scanTaskQueue } from '../workflows/task-queues';
import { createChainWorkers, type WorkerRole } from './temporal/chain-workers';
import { connectWorker } from './temporal/connect';
import { closeOnSignals, runEntryPoint } from './process/entry-point';
import { processRegistry, serveMetrics } from './process/metrics';
import { signalReady } from './process/ready';
import { installTemporalRuntime } from './temporal/runtime';

async function main(): Promise<void> {
  const roleArg = process.argv.find((a) => a.startsWith('--role='))?.slice('--role='.length) ?? 'all';
  if (!['all', 'chain', 'scan'].includes(roleArg)) throw new ChainError('BAD_INPUT', `--role must be all, chain or scan (got "${roleArg}")`);
  const config = loadConfig();
  const logger = createLogger({ level: config.log.level, name: 'temporal-worker' });
  installTemporalRuntime(logger);
  const deps = createActivityDeps(config, logger);
  const connection = await connectWorker(config);
  const metrics = processRegistry();
  const workers = await createChainWorkers({ config, logger, role: roleArg as WorkerRole, connection, deps, metrics });
  const metricsListener = await serveMetrics(metrics, config.metrics.host, config.metrics.temporalWorkerPort);
  const running = Promise.all(workers.map((w) => w.run()));
  closeOnSignals(
    async () => {
      for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      deps.redis.disconnect();
      await Promise.all([connection.close(), metricsListener.close()]);
      logger.info('temporal worker stopped');
    },
    (reason) => logger.info({ reason }, 'temporal worker stopping'),
  );
  logger.info({ taskQueues: [config.temporal.taskQueue, scanTaskQueue(config.temporal.taskQueue)], role: roleArg }, 'temporal worker running');
  if (metricsListener.url) logger.info({ url: metricsListener.url }, 'metrics served');
  signalReady();
  // Resolves once a shutdown finished (closeOnSignals then exits); a worker failing on its own rejects, and the process exits 1.
  await running;
}

if (require.main === module) runEntryPoint('temporal-worker', main);
