import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/chain';
import { ensureSearchAttributes } from '../temporal/namespace';
import { freePort, ManagedProcess, portOpen, type ServiceProcess } from './managed-process';
import { requireTool } from './tools';

export interface TemporalDevServerOptions {
  dataDir: string;
  port?: number;
  uiPort?: number;
  /** The HTTP API and Prometheus metrics ports (free ones when absent). */
  httpPort?: number;
  metricsPort?: number;
  namespace?: string;
  /** Where the server's output goes; default <dataDir>/temporal.log. */
  logFile?: string;
  /** Its own process group (see ManagedProcessOptions.detached). */
  detached?: boolean;
  /** Tests run without the Web UI. */
  headless?: boolean;
}

export interface TemporalDevServer {
  address: string;
  namespace: string;
  uiUrl: string | undefined;
  process: ServiceProcess;
}

/** `temporal server start-dev` with a SQLite file in dataDir (runs survive a restart) and the project's search attributes. */
export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const binary = requireTool('temporal', 'the Temporal CLI');
  const port = options.port ?? (await freePort());
  const uiPort = options.headless ? undefined : (options.uiPort ?? (await freePort()));
  const namespace = options.namespace ?? 'default';
  mkdirSync(options.dataDir, { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--http-port',
    String(options.httpPort ?? (await freePort())),
    '--metrics-port',
    String(options.metricsPort ?? (await freePort())),
    '--db-filename',
    join(options.dataDir, 'temporal.sqlite'),
    '--namespace',
    namespace,
    '--log-level',
    'warn',
    ...Object.entries(SEARCH_ATTRIBUTE_TYPES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
    ...(uiPort === undefined ? ['--headless'] : ['--ui-port', String(uiPort), '--ui-ip', '127.0.0.1']),
  ];
  const address = `127.0.0.1:${port}`;
  const proc = new ManagedProcess({
    name: 'temporal',
    command: binary,
    args,
    env: { ...process.env, TEMPORAL_VERSION_CHECK_DISABLED: '1' },
    logFile: options.logFile ?? join(options.dataDir, 'temporal.log'),
    detached: options.detached === true,
    readyTimeoutMs: 60_000,
    ready: async () => {
      if (!(await portOpen(port))) return false;
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        // --search-attribute registers only in a new database: one added since it was created (DcFailedStage
        // on an upgraded `npm start`) would make the chain's upserts fail its workflow tasks. Registered here.
        await ensureSearchAttributes(connection, namespace);
        return true;
      } finally {
        await connection.close();
      }
    },
  });
  await proc.start();
  return { address, namespace, uiUrl: uiPort === undefined ? undefined : `http://127.0.0.1:${uiPort}`, process: proc };
}
