import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, type Worker } from '@temporalio/worker';
import { createActivityDeps } from '../../activities/deps';
import { type Config } from '../../src/config/schema';
import { createLogger, type Logger } from '../../src/log/logger';
import { createChainWorkers } from '../../workers/temporal/chain-workers';
import { connectionOptions } from '../../workers/temporal/connect';
import { withDataConverter } from '../../workers/temporal/security';
import { onCleanup } from './services';

let bundle: Awaited<ReturnType<typeof bundleWorkflowCode>> | undefined;

/** The project's real workflow bundle, built once per test file. */
export async function workflowBundle() {
  bundle ??= await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
  });
  return bundle;
}

export interface RunningChainWorker {
  client: Client;
  workers: Worker[];
  stop(): Promise<void>;
}

/** The project's Temporal workers (chain + scan queues) running in this process against `config`. */
export async function useChainWorker(config: Config, options: { logger?: Logger } = {}): Promise<RunningChainWorker> {
  const logger = options.logger ?? createLogger({ level: process.env.LOG_LEVEL ?? 'silent', pretty: false });
  const deps = createActivityDeps(config, logger);
  const workers = await createChainWorkers({ config, logger, workflowBundle: await workflowBundle(), deps });
  const running = workers.map((w) => w.run());
  // The same TLS and payload codec as the workers (temporal.tls, temporal.codec).
  const connection = await Connection.connect(connectionOptions(config));
  const client = new Client({ connection, namespace: config.temporal.namespace, ...withDataConverter(config) });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.allSettled(running);
    await connection.close();
    deps.redis.disconnect();
  };
  onCleanup(stop);
  return { client, workers, stop };
}
