import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createLogger } from '../../src/log/logger';
import { installTemporalRuntime } from '../../workers/temporal/runtime';
import { scanTaskQueue } from '../../workflows/task-queues';
import { workflowBundle } from './chain-worker';
import { useTemporal } from './services';

/**
 * The rescan workflow's tests: a workflow worker and a scan-queue worker on the shared dev server,
 * both running `activities` (an in-memory fleet), on a task queue of their own.
 */
export async function startRescanWorkers(name: string, activities: object): Promise<{ client: Client; taskQueue: string; stop: () => Promise<void> }> {
  installTemporalRuntime(createLogger({ level: 'silent' }));
  const temporal = await useTemporal();
  const connection = await NativeConnection.connect({ address: temporal.address });
  const taskQueue = `${name}-${process.pid}`;
  const bundle = await workflowBundle();
  const workers = [
    await Worker.create({ connection, taskQueue, workflowBundle: bundle, activities }),
    await Worker.create({ connection, taskQueue: scanTaskQueue(taskQueue), activities }),
  ];
  const running = Promise.all(workers.map((w) => w.run()));
  const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
  return {
    client,
    taskQueue,
    stop: async () => {
      for (const w of workers) w.shutdown();
      await running;
      await client.connection.close();
    },
  };
}
