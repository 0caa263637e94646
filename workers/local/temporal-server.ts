/**
 * The production Temporal server (go.temporal.io/server, built by `npm run setup -- --cluster`) on
 * PostgreSQL: the schema set up by the server's own SQL tool, the visibility store on PostgreSQL too
 * (SQL "advanced visibility": custom search attributes and list filters work), and several server
 * processes forming one cluster. Each process runs every service (frontend, history, matching,
 * worker) bound to its own loopback address (127.0.0.2, 127.0.0.3, …); they find each other through
 * the membership table in PostgreSQL (ringpop), and history shards move to the survivors when one dies.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import YAML from 'yaml';
import { ChainError } from '../../src/errors';
import { freePort, ManagedProcess, portOpen, type ServiceProcess } from './managed-process';
import { type LocalPostgres } from './postgres-server';
import { requireTool } from './tools';

export const TEMPORAL_DATABASE = 'temporal';
export const VISIBILITY_DATABASE = 'temporal_visibility';
/** Fixed for the life of a database: shards are how history work is split between server processes. */
const HISTORY_SHARDS = 16;
const SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;

export interface TemporalNode {
  name: string;
  ip: string;
  /** host:port of this process's frontend. */
  address: string;
  metricsUrl: string;
  process: ServiceProcess;
}

function sqlTool(pg: LocalPostgres, database: string, args: string[]): { ok: boolean; output: string } {
  const tool = requireTool('temporal-sql-tool', 'go.temporal.io/server/cmd/tools/sql, built by `npm run setup -- --cluster`');
  const res = spawnSync(tool, ['--plugin', 'postgres12', '--ep', pg.host, '-p', String(pg.port), '-u', pg.user, '--db', database, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { ok: res.status === 0, output: `${res.stdout}${res.stderr}` };
}

/**
 * Creates both databases and brings their schemas to the versions embedded in the SQL tool
 * (it ships the server's schema/ directory). Idempotent: an existing database is only updated.
 */
export function setupTemporalSchema(pg: LocalPostgres): void {
  for (const [database, schema] of [
    [TEMPORAL_DATABASE, 'postgresql/v12/temporal'],
    [VISIBILITY_DATABASE, 'postgresql/v12/visibility'],
  ] as const) {
    const created = sqlTool(pg, database, ['create-database']);
    if (created.ok) {
      const setup = sqlTool(pg, database, ['setup-schema', '-v', '0.0']);
      if (!setup.ok) throw new ChainError('SERVICE_START_FAILED', `temporal-sql-tool setup-schema ${database} failed:\n${setup.output}`);
    } else if (!/already exists/.test(created.output)) {
      throw new ChainError('SERVICE_START_FAILED', `temporal-sql-tool create-database ${database} failed:\n${created.output}`);
    }
    const update = sqlTool(pg, database, ['update-schema', '--schema-name', schema]);
    if (!update.ok) throw new ChainError('SERVICE_START_FAILED', `temporal-sql-tool update-schema ${database} failed:\n${update.output}`);
  }
}

export interface TemporalNodeOptions {
  name: string;
  /** The loopback address this process binds and announces to its peers. */
  ip: string;
  dataDir: string;
  postgres: LocalPostgres;
  /** The address clients use for the cluster (the balancer in front of the frontends); absent = this node's frontend. */
  publicAddress?: string;
  /**
   * Mutual TLS on the frontend: clients must present a certificate signed by `caFile`. The node's
   * own certificate (served, and presented by its system workers) must carry `serverName`.
   */
  tls?: { certFile: string; keyFile: string; caFile: string; serverName: string };
}

/** Writes the node's configuration and returns the process, not yet started (`start()` waits for its frontend). */
export async function temporalNode(options: TemporalNodeOptions): Promise<TemporalNode> {
  const binary = requireTool('temporal-server', 'go.temporal.io/server/cmd/server, built by `npm run setup -- --cluster`');
  const { ip, postgres } = options;
  const dir = join(options.dataDir, options.name);
  mkdirSync(dir, { recursive: true });
  const port = () => freePort(ip);
  const rpc: Record<string, { grpcPort: number; membershipPort: number; bindOnIP: string; httpPort?: number }> = {};
  for (const service of SERVICES) rpc[service] = { grpcPort: await port(), membershipPort: await port(), bindOnIP: ip };
  (rpc.frontend as { httpPort?: number }).httpPort = await port();
  const metricsPort = await port();
  const frontend = rpc.frontend?.grpcPort as number;
  const address = `${ip}:${frontend}`;
  const store = (database: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName: database,
      connectAddr: `${postgres.host}:${postgres.port}`,
      connectProtocol: 'tcp',
      user: postgres.user,
      password: '',
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const config = {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: HISTORY_SHARDS,
      datastores: { default: store(TEMPORAL_DATABASE, 20), visibility: store(VISIBILITY_DATABASE, 10) },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: ip },
      ...(options.tls ? { tls: frontendTls(options.tls) } : {}),
      metrics: { prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `${ip}:${metricsPort}` } },
    },
    services: Object.fromEntries(SERVICES.map((s) => [s, { rpc: rpc[s] }])),
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: options.publicAddress ?? address } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: join(dir, 'dynamic-config.yaml'), pollInterval: '10s' },
  };
  writeFileSync(join(dir, 'cluster.yaml'), YAML.stringify(config));
  writeFileSync(
    join(dir, 'dynamic-config.yaml'),
    YAML.stringify({
      // A search attribute registered a moment ago is usable at once (the dev server does the same).
      'system.forceSearchAttributesCacheRefreshOnRead': [{ value: true, constraints: {} }],
      'limit.maxIDLength': [{ value: 1000, constraints: {} }],
    }),
  );
  const proc = new ManagedProcess({
    name: `temporal-${options.name}`,
    command: binary,
    args: ['--root', dir, '--config', '.', '--env', 'cluster', '--allow-no-auth', 'start'],
    logFile: join(dir, 'server.log'),
    // A cold start joins the ring and acquires shards; on two shared cores that takes a while.
    readyTimeoutMs: 180_000,
    ready: async () => {
      if (!(await portOpen(frontend, ip))) return false;
      const connection = await Connection.connect({ address, connectTimeout: 1000, ...(options.tls ? { tls: nodeClientTls(options.tls) } : {}) });
      try {
        await connection.workflowService.getSystemInfo({});
        return true;
      } finally {
        await connection.close();
      }
    },
  });
  return { name: options.name, ip, address, metricsUrl: `http://${ip}:${metricsPort}/metrics`, process: proc };
}

type NodeTls = NonNullable<TemporalNodeOptions['tls']>;

/**
 * The server's `global.tls`: the frontend requires client certificates; the system workers (the
 * server's own SDK clients: schedules, batch operations) connect to it with the node's certificate.
 */
function frontendTls(tls: NodeTls) {
  const client = { serverName: tls.serverName, rootCaFiles: [tls.caFile] };
  return {
    frontend: { server: { certFile: tls.certFile, keyFile: tls.keyFile, clientCaFiles: [tls.caFile], requireClientAuth: true }, client },
    systemWorker: { certFile: tls.certFile, keyFile: tls.keyFile, client },
  };
}

/** The launcher's own probe presents the node's certificate (signed by the same CA). */
function nodeClientTls(tls: NodeTls) {
  return {
    serverNameOverride: tls.serverName,
    serverRootCACertificate: readFileSync(tls.caFile),
    clientCertPair: { crt: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) },
  };
}

/** The live members of the cluster, per service, as the servers record them in PostgreSQL. */
export function clusterMembers(pg: LocalPostgres): Array<{ service: string; address: string }> {
  const psql = requireTool('psql', 'Debian package postgresql-client');
  const res = spawnSync(
    psql,
    [
      '-h',
      pg.host,
      '-p',
      String(pg.port),
      '-U',
      pg.user,
      '-d',
      TEMPORAL_DATABASE,
      '-Atc',
      "select role, rpc_address || ':' || rpc_port from cluster_membership where record_expiry > now() order by 1, 2",
    ],
    { encoding: 'utf8', timeout: 10_000 },
  );
  if (res.status !== 0) throw new ChainError('SERVICE_UNREACHABLE', `cannot read cluster_membership: ${res.stderr}`);
  const roles = ['frontend', 'history', 'matching', 'worker'];
  return res.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [role, address] = line.split('|');
      return { service: roles[Number(role) - 1] ?? `role ${role}`, address: address ?? '' };
    });
}
