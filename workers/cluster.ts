/**
 * `npm run stack:cluster`: the chain on a production-shaped topology, on loopback. A Temporal cluster
 * of two server processes on PostgreSQL, Redis with a replica behind three Sentinels, haproxy in front
 * of the webhook API replicas and the Temporal frontends, the managed registries notifying haproxy,
 * and two of each of the project's processes (API, ingest worker, chain worker, scan worker). The
 * project's processes are the same as `npm start`'s; only their configuration differs
 * (temporal.address = the balancer, redis.sentinel instead of redis.url).
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { type Config, loadConfig } from '../src/config';
import { ChainError } from '../src/errors';
import { createLogger, type Logger } from '../src/log';
import { type LocalHaproxy, startHaproxy } from './local/haproxy';
import { freePort, ManagedProcess, type ServiceProcess } from './local/managed-process';
import { type LocalPostgres, startPostgres } from './local/postgres-server';
import { type LocalRedisSentinel, startRedisSentinel } from './local/redis-sentinel';
import { startRegistry } from './local/registry-server';
import { setupTemporalSchema, type TemporalNode, temporalNode } from './local/temporal-server';
import { runEntryPoint } from './process/entry-point';
import { ensureLocalSigningKey, RUNTIME_CONFIG_FILE } from './stack';
import { ensureNamespace, ensureSearchAttributes } from './temporal/namespace';
import { TEMPORAL_WORKER_NODE_FLAGS } from './temporal/node-flags';

export const CLUSTER_FILE = 'cluster.json';

/** The project's processes, each run `replicas` times. */
const OWN = [
  { kind: 'api', entry: 'api.ts', args: [] },
  { kind: 'ingest-worker', entry: 'ingest-worker.ts', args: [] },
  { kind: 'chain-worker', entry: 'temporal-worker.ts', args: ['--role=chain'] },
  { kind: 'scan-worker', entry: 'temporal-worker.ts', args: ['--role=scan'] },
] as const;
export type OwnKind = (typeof OWN)[number]['kind'];

export interface ClusterOptions {
  /** Copies of each project process (default 2). */
  replicas?: number;
  /** Per kind, overriding `replicas` (benchmarks scale one kind). */
  counts?: Partial<Record<OwnKind, number>>;
  /** Sentinel's down-after (failover tests shorten it). */
  sentinelDownAfterMs?: number;
}

export interface Cluster {
  urls: Record<string, string>;
  /** The resolved configuration the project's processes run with. */
  config: Config;
  postgres: LocalPostgres;
  temporal: TemporalNode[];
  redis: LocalRedisSentinel;
  haproxy: LocalHaproxy;
  /** The project's processes by kind, each with its own port for the API replicas. */
  own: Record<OwnKind, Array<ServiceProcess & { port?: number }>>;
  /** Starts or stops replicas of one kind of the project's processes until `replicas` run. */
  scale(kind: OwnKind, replicas: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startCluster(config: Config, logger: Logger, options: ClusterOptions = {}): Promise<Cluster> {
  const dataDir = resolve(config.dataDir);
  const dir = (name: string) => join(dataDir, 'cluster', name);
  mkdirSync(join(dataDir, 'run'), { recursive: true });
  const started: ServiceProcess[] = [];
  const stop = async () => {
    for (const proc of started.splice(0).reverse()) await proc.stop();
    rmSync(join(dataDir, CLUSTER_FILE), { force: true });
  };
  const keep = <T extends { process: ServiceProcess }>(s: T): T => {
    started.push(s.process);
    return s;
  };
  try {
    const postgres = keep(await startPostgres({ dataDir: dir('postgres') }));
    logger.info({ port: postgres.port }, 'PostgreSQL started');
    setupTemporalSchema(postgres);

    const replicas = options.replicas ?? 2;
    const count = (kind: OwnKind) => options.counts?.[kind] ?? replicas;
    const apiPorts = await Promise.all(Array.from({ length: count('api') }, () => freePort()));
    const temporal: TemporalNode[] = [];
    const balancerTemporalPort = await freePort();
    for (let i = 0; i < 2; i++) {
      temporal.push(
        await temporalNode({
          name: `node-${i}`,
          ip: `127.0.0.${2 + i}`,
          dataDir: dir('temporal'),
          postgres,
          publicAddress: `127.0.0.1:${balancerTemporalPort}`,
        }),
      );
    }
    const haproxy = keep(
      await startHaproxy({
        dataDir: dir(''),
        apiPort: config.api.port,
        temporalPort: balancerTemporalPort,
        backends: { api: apiPorts.map((p) => `127.0.0.1:${p}`), temporal: temporal.map((n) => n.address) },
      }),
    );
    // One after the other: the first creates the cluster metadata, the second joins its ring.
    for (const node of temporal) {
      await node.process.start();
      started.push(node.process);
      logger.info({ node: node.name, address: node.address }, 'Temporal server started');
    }
    const temporalAddress = `127.0.0.1:${haproxy.temporalPort}`;
    const connection = await Connection.connect({ address: temporalAddress, connectTimeout: 10_000 });
    try {
      await ensureNamespace(connection, config.temporal.namespace);
      await waitForNamespace(connection, config.temporal.namespace);
      const added = await ensureSearchAttributes(connection, config.temporal.namespace);
      logger.info({ namespace: config.temporal.namespace, searchAttributesAdded: added }, 'Temporal namespace ready');
    } finally {
      await connection.close();
    }

    const redis = await startRedisSentinel({ dataDir: dir('redis'), ...(options.sentinelDownAfterMs ? { downAfterMs: options.sentinelDownAfterMs } : {}) });
    started.push(...redis.nodes.map((n) => n.process), ...redis.sentinelProcesses);
    logger.info({ sentinels: redis.sentinels }, 'Redis with Sentinel started');

    const apiUrl = `http://127.0.0.1:${haproxy.apiPort}`;
    const runtime: Config = structuredClone(config);
    runtime.dataDir = dataDir;
    runtime.temporal.address = temporalAddress;
    delete runtime.redis.url;
    runtime.redis.sentinel = { name: redis.name, sentinels: redis.sentinels, tls: false };
    runtime.api.publicUrl = apiUrl;
    runtime.ingest.replicaAcks = Math.max(runtime.ingest.replicaAcks, 1);
    for (const registry of config.registries.filter((r) => r.managed)) {
      const source = config.sources.find((s) => s.registry === registry.name);
      keep(
        await startRegistry({
          name: registry.name,
          dataDir: dir('registries'),
          port: Number(new URL(registry.url).port || 80),
          ...(source ? { notify: { url: `${apiUrl}/webhooks/${source.name}`, secret: source.secret }, notifyBackoff: '1s' } : {}),
        }),
      );
      const r = runtime.registries.find((x) => x.name === registry.name);
      if (r) r.managed = false;
    }
    // Two replicas of each worker share this configuration: fixed per-process metrics ports would collide
    // (the second replica could not start), so the workers' own metrics listeners are off here; the API's
    // /metrics (behind haproxy) still serves.
    runtime.metrics = { ...runtime.metrics, temporalWorkerPort: 0, ingestWorkerPort: 0 };
    const signingEnv = await ensureLocalSigningKey(runtime, dataDir, logger);
    const runtimeConfig = join(dataDir, 'cluster', RUNTIME_CONFIG_FILE);
    writeFileSync(runtimeConfig, JSON.stringify(runtime, null, 2), { mode: 0o600 });

    const own = Object.fromEntries(OWN.map((o) => [o.kind, []])) as unknown as Cluster['own'];
    // The environment the stack runs in must not override what this topology sets.
    const { DCHAIN_REDIS_URL: _url, DCHAIN_TEMPORAL_ADDRESS: _address, ...env } = process.env;
    const startOwn = async (spec: (typeof OWN)[number], i: number) => {
      const name = `${spec.kind}-${i}`;
      const readyFile = join(dataDir, 'run', `${name}.ready`);
      rmSync(readyFile, { force: true });
      const port = spec.kind === 'api' ? apiPorts[i] : undefined;
      const proc = new ManagedProcess({
        name,
        command: process.execPath,
        args: [...(spec.entry === 'temporal-worker.ts' ? TEMPORAL_WORKER_NODE_FLAGS : []), '--import', 'tsx', join(__dirname, spec.entry), ...spec.args],
        env: { ...env, ...signingEnv, DCHAIN_CONFIG: runtimeConfig, DCHAIN_READY_FILE: readyFile, ...(port ? { DCHAIN_API_PORT: String(port) } : {}) },
        logFile: join(dataDir, 'logs', `${name}.log`),
        readyTimeoutMs: 180_000,
        ready: port
          ? async () => (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) })).ok
          : async () => existsSync(readyFile),
      });
      await proc.start();
      started.push(proc);
      own[spec.kind].push(Object.assign(proc, port ? { port } : {}));
      logger.info({ process: name, pid: proc.pid }, 'process started');
    };
    for (const spec of OWN) {
      for (let i = 0; i < count(spec.kind); i++) await startOwn(spec, i);
    }
    /**
     * Starts or stops replicas of one kind (benchmarks measure 1, 2 and 4 workers on one cluster). haproxy
     * only knows the API replicas it was started with, so the API cannot grow past them.
     */
    const scale = async (kind: OwnKind, replicas: number) => {
      const spec = OWN.find((o) => o.kind === kind) as (typeof OWN)[number];
      if (kind === 'api' && replicas > count('api')) {
        throw new ChainError('BAD_INPUT', `the balancer was configured for ${count('api')} API replicas; cannot scale to ${replicas}`);
      }
      while (own[kind].length < replicas) await startOwn(spec, own[kind].length);
      while (own[kind].length > replicas) {
        const proc = own[kind].pop() as ServiceProcess;
        started.splice(started.indexOf(proc), 1);
        await proc.stop();
      }
    };
    const urls: Record<string, string> = {
      temporal: temporalAddress,
      ...Object.fromEntries(temporal.map((n) => [`temporal-${n.name}`, n.address])),
      postgres: `postgresql://${postgres.user}@${postgres.host}:${postgres.port}/temporal`,
      'redis-sentinels': redis.sentinels.map((s) => `${s.host}:${s.port}`).join(','),
      api: apiUrl,
      webhooks: config.sources.map((s) => `${apiUrl}/webhooks/${s.name}`).join(' '),
      ...Object.fromEntries(config.registries.map((r) => [`registry-${r.name}`, r.url])),
      config: runtimeConfig,
      logs: join(dataDir, 'logs'),
    };
    const processes = Object.fromEntries(started.map((p) => [p.name, p.pid]));
    writeFileSync(join(dataDir, CLUSTER_FILE), JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), urls, processes }, null, 2));
    return { urls, config: runtime, postgres, temporal, redis, haproxy, own, scale, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A namespace registered through one frontend reaches the others' caches within their refresh interval. */
export async function waitForNamespace(connection: Connection, namespace: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (let ok = 0; ok < 4;) {
    try {
      await connection.workflowService.describeNamespace({ namespace });
      ok++;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      ok = 0;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function main(): Promise<void> {
  const configArg = process.argv.indexOf('--config');
  const config = loadConfig(configArg > 0 && process.argv[configArg + 1] ? { path: process.argv[configArg + 1] } : {});
  const logger = createLogger({ level: config.log.level, name: 'cluster' });
  const cluster = await startCluster(config, logger);
  const width = Math.max(...Object.keys(cluster.urls).map((k) => k.length));
  process.stdout.write('\ndelivery-chain (cluster topology) is running:\n');
  for (const [name, url] of Object.entries(cluster.urls)) process.stdout.write(`  ${name.padEnd(width)}  ${url}\n`);
  process.stdout.write(`\nList runs:  temporal workflow list --address ${cluster.urls.temporal} --query 'DcVerdict = "allowed"'\nStop with Ctrl-C.\n`);
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    cluster.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, shutdown);
}

if (require.main === module) runEntryPoint('stack:cluster', main);
