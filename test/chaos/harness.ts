/**
 * The fault-injection harness: the whole chain on loopback — Temporal dev server, Redis (AOF), a
 * source registry notifying the webhook API, a mirror, the webhook API as a process of its own (so
 * it can be killed under load), the queue worker in this process with the reconcile schedule, and
 * two Temporal worker *processes* (so one can be SIGKILLed while the other takes over). The workers
 * reach both registries through fault proxies (5xx answers, a request held while its worker is
 * killed) and read the source through a throttled link so scans and syncs last long enough to be
 * interrupted. Every scenario ends by printing one row of the table
 * `scenario | injected | digests | completed | blocked | lost | duplicated | recovery_s`.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { parseConfig } from '../../src/config/load';
import { type Config } from '../../src/config/schema';
import { workerConnection } from '../../src/ingest';
import { createLogger } from '../../src/log/logger';
import { cosignTag, RegistryClient } from '../../src/registry';
import { generateKeyPair } from '../../src/signing';
import { lastRun } from '../../workers/temporal/chain-control';
import { type IngestWorker, startIngestWorker } from '../../workers/ingest-worker';
import { ensureReconcileSchedule } from '../../workers/temporal/schedules';
import { type LocalRedis } from '../../workers/local/redis-server';
import { type LocalRegistry } from '../../workers/local/registry-server';
import { freePort, ManagedProcess } from '../../workers/local/managed-process';
import { type TemporalDevServer } from '../../workers/local/temporal-dev-server';
import { type FaultProxy, useFaultProxy } from '../support/fault-proxy';
import { onCleanup, testDataDir, useRedis, useRegistry, useTemporal } from '../support/services';
import { useThrottleProxy } from '../support/throttle-proxy';
import { chainWorkflowId, SCHEDULE_IDS } from '../../src/chain';

const ROOT = resolve(__dirname, '..', '..');
export const WEBHOOK_SECRET = 'chaos-webhook-secret-0123456789';
const KEY_PASSWORD = 'chaos-key-password';

export interface Notification {
  event: string;
  digest: string;
  tags?: string[];
}

export interface ChaosRow {
  scenario: string;
  injected: string;
  digests: number;
  completed: number;
  blocked: number;
  lost: number;
  duplicated: number;
  recovery_s: number | '-';
}

export interface ChaosStack {
  config: Config;
  client: Client;
  apiUrl: string;
  sourceHost: string;
  source: RegistryClient;
  mirror: RegistryClient;
  notes: Notification[];
  workers: ManagedProcess[];
  /** The services a scenario may stop, kill and start again (same ports and data). */
  temporal: TemporalDevServer;
  redis: LocalRedis;
  sourceRegistry: LocalRegistry;
  /** The webhook API process the source registry notifies. */
  api: ManagedProcess;
  /** Starts the API process again after a kill, once it answers. */
  restartApi(): Promise<void>;
  ingest: IngestWorker;
  /** What the workers reach the source and the mirror through. */
  sourceFaults: FaultProxy;
  mirrorFaults: FaultProxy;
  /** A worker process (n: 1, 2, …) started and ready. */
  startWorker(n: number): Promise<ManagedProcess>;
  waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
  /** Counts for the table row of `digests` (repository, digest). */
  measure(images: Array<{ repository: string; digest: string }>): Promise<Omit<ChaosRow, 'scenario' | 'injected' | 'recovery_s'>>;
}

export async function startChaosStack(): Promise<ChaosStack> {
  const dataDir = testDataDir('dchain-chaos-');
  const apiPort = await freePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const [temporal, redis, sourceRegistry, mirrorRegistry] = await Promise.all([
    useTemporal(dataDir),
    useRedis(dataDir),
    useRegistry({ name: 'source', dataDir, notify: { url: `${apiUrl}/webhooks/source`, secret: WEBHOOK_SECRET } }),
    useRegistry({ name: 'mirror', dataDir }),
  ]);
  // 8 MB/s from the source: a 24 MB image takes seconds to scan and to sync.
  const slowSource = await useThrottleProxy(sourceRegistry.port, 8 * 1024 * 1024);
  const sourceFaults = await useFaultProxy(Number(new URL(slowSource.url).port));
  const mirrorFaults = await useFaultProxy(mirrorRegistry.port);
  const notes: Notification[] = [];
  const subscriber = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const parsed = JSON.parse(body) as Notification;
      notes.push({ event: parsed.event, digest: parsed.digest, ...(parsed.tags ? { tags: parsed.tags } : {}) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((done) => subscriber.listen(0, '127.0.0.1', done));
  onCleanup(() => new Promise<void>((done) => subscriber.close(() => done())));

  const keys = await generateKeyPair(KEY_PASSWORD);
  writeFileSync(join(dataDir, 'cosign.key'), keys.privateKeyPem, { mode: 0o600 });
  const raw = {
    dataDir,
    temporal: { address: temporal.address, taskQueue: 'chaos' },
    redis: { url: redis.url },
    registries: [
      { name: 'source', url: sourceRegistry.url },
      { name: 'mirror', url: mirrorRegistry.url },
    ],
    sources: [{ name: 'source', registry: 'source', secret: WEBHOOK_SECRET }],
    sync: { targets: [{ registry: 'mirror' }] },
    scan: { osv: { directory: join(dataDir, 'osv') } },
    // No vulnerability data on loopback: the built-in policy would deny every image for that; these scenarios are about the lifecycle.
    policy: { mode: 'dry-run' },
    signing: { key: { kind: 'file', path: join(dataDir, 'cosign.key'), passwordEnv: 'CHAOS_KEY_PASSWORD' } },
    distribute: {
      promoteTags: ['stable'],
      subscribers: [{ name: 'audit', url: `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}/`, secret: 'subscriber-secret-0123456789' }],
    },
    // Reconcile often: it is what finds the pushes whose notifications a registry restart dropped.
    ingest: { maxBackoff: '2s', reconcileInterval: '15s', retryFailed: { backoff: '1s', maxBackoff: '5s', maxRuns: 3 } },
    // Two worker processes share this file: fixed metrics ports would collide.
    metrics: { temporalWorkerPort: 0, ingestWorkerPort: 0 },
  };
  const config = parseConfig(raw);
  // The worker processes reach the registries through the fault proxies (the source also through
  // the slow link); the API and tests use them directly.
  const workerConfigFile = join(dataDir, 'worker-config.json');
  writeFileSync(
    workerConfigFile,
    JSON.stringify({
      ...raw,
      registries: [
        { name: 'source', url: sourceFaults.url },
        { name: 'mirror', url: mirrorFaults.url },
      ],
    }),
  );
  const apiConfigFile = join(dataDir, 'api-config.json');
  writeFileSync(apiConfigFile, JSON.stringify({ ...raw, api: { host: '127.0.0.1', port: apiPort } }));

  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });
  const apiReady = join(dataDir, 'api.ready');
  const api = new ManagedProcess({
    name: 'chaos-api',
    command: process.execPath,
    args: ['--import', 'tsx', join(ROOT, 'workers', 'api.ts')],
    env: { ...process.env, DCHAIN_CONFIG: apiConfigFile, DCHAIN_READY_FILE: apiReady, LOG_LEVEL: 'info' },
    logFile: join(dataDir, 'api.log'),
    readyTimeoutMs: 180_000,
    ready: async () => existsSync(apiReady),
  });
  const restartApi = async () => {
    rmSync(apiReady, { force: true });
    await api.start();
  };
  await restartApi();
  onCleanup(() => api.stop());
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  await ensureReconcileSchedule(client, config);
  const ingestRedis = workerConnection(redis.url);
  ingestRedis.on('error', () => undefined);
  const ingest = startIngestWorker({ config, logger, client, redis: ingestRedis });
  onCleanup(async () => {
    await client.schedule
      .getHandle(SCHEDULE_IDS.reconcile)
      .delete()
      .catch(() => undefined);
    await ingest.close();
    ingestRedis.disconnect();
    await connection.close();
  });

  const workers: ManagedProcess[] = [];
  const stack: ChaosStack = {
    config,
    client,
    apiUrl,
    sourceHost: sourceRegistry.host,
    source: RegistryClient.fromConfig(config.registries[0]!),
    mirror: RegistryClient.fromConfig(config.registries[1]!),
    notes,
    workers,
    temporal,
    redis,
    sourceRegistry,
    api,
    restartApi,
    ingest,
    sourceFaults,
    mirrorFaults,
    async startWorker(n) {
      const ready = join(dataDir, `worker-${n}.ready`);
      // A restarted worker's old ready file would pass for the new process's.
      rmSync(ready, { force: true });
      const worker = new ManagedProcess({
        name: `chaos-worker-${n}`,
        command: process.execPath,
        args: ['--import', 'tsx', join(ROOT, 'workers', 'temporal-worker.ts')],
        env: { ...process.env, DCHAIN_CONFIG: workerConfigFile, CHAOS_KEY_PASSWORD: KEY_PASSWORD, DCHAIN_READY_FILE: ready, LOG_LEVEL: 'info' },
        logFile: join(dataDir, `worker-${n}.log`),
        readyTimeoutMs: 180_000,
        ready: async () => existsSync(ready),
      });
      await worker.start();
      onCleanup(() => worker.stop());
      workers[n - 1] = worker;
      return worker;
    },
    async waitFor(what, probe, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await probe().catch(() => undefined);
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await delay(100);
      }
    },
    async measure(images) {
      const row = { digests: images.length, completed: 0, blocked: 0, lost: 0, duplicated: 0 };
      for (const { repository, digest } of images) {
        const workflowId = chainWorkflowId({ registry: 'source', repository, digest });
        const last = await lastRun(client, workflowId);
        if (last?.state === 'delivered') row.completed++;
        else if (last?.state === 'blocked') row.blocked++;
        else row.lost++;
        let delivered = 0;
        for await (const run of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) if (run.status.name === 'COMPLETED') delivered++;
        // Entries beyond one signature, and beyond one attestation per predicate type.
        const surplus = async (client2: RegistryClient, kind: 'sig' | 'att') => {
          try {
            const layers = (
              (await client2.getManifest(repository, cosignTag(digest, kind))).manifest as { layers: Array<{ annotations?: Record<string, string> }> }
            ).layers;
            return kind === 'sig' ? layers.length - 1 : layers.length - new Set(layers.map((l) => l.annotations?.predicateType)).size;
          } catch {
            return 0;
          }
        };
        const extra = [
          Math.max(0, delivered - 1),
          Math.max(0, await surplus(stack.source, 'sig')),
          Math.max(0, await surplus(stack.mirror, 'sig')),
          Math.max(0, await surplus(stack.source, 'att')),
          Math.max(0, await surplus(stack.mirror, 'att')),
          Math.max(0, notes.filter((n) => n.digest === digest && n.event === 'distributed').length - 1),
        ];
        // Tag notifications: each tag announced at most once.
        const tagged = notes.filter((n) => n.digest === digest && n.event === 'tagged').flatMap((n) => n.tags ?? []);
        extra.push(tagged.length - new Set(tagged).size);
        row.duplicated += extra.reduce((a, b) => a + b, 0);
      }
      return row;
    },
  };
  return stack;
}

export function printRow(row: ChaosRow): void {
  const cells = [row.scenario, row.injected, row.digests, row.completed, row.blocked, row.lost, row.duplicated, row.recovery_s];
  process.stdout.write(`| ${cells.join(' | ')} |\n`);
}
