/**
 * The fault-injection harness: the whole chain on loopback — Temporal dev server, Redis (AOF), a
 * source registry notifying the webhook API, a mirror, the API and the queue worker in this
 * process, and two Temporal worker *processes* (so one can be SIGKILLed while the other takes over).
 * The workers read the source through a throttled link so scans and syncs last long enough to be
 * interrupted. Every scenario ends by printing one row of the table
 * `scenario | injected | digests | completed | blocked | lost | duplicated | recovery_s`.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { parseConfig } from '../../src/config/load';
import { type Config } from '../../src/config/schema';
import { producerConnection, workerConnection } from '../../src/ingest';
import { createLogger } from '../../src/log/logger';
import { cosignTag, RegistryClient } from '../../src/registry';
import { generateKeyPair } from '../../src/signing';
import { buildApi } from '../../workers/api';
import { lastRun } from '../../workers/temporal/chain-control';
import { startIngestWorker } from '../../workers/ingest-worker';
import { freePort, ManagedProcess } from '../../workers/local/managed-process';
import { onCleanup, testDataDir, useRedis, useRegistry, useTemporal } from '../support/services';
import { useThrottleProxy } from '../support/throttle-proxy';
import { chainWorkflowId } from '../../src/chain';

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
    distribute: { promoteTags: ['stable'], subscribers: [{ name: 'audit', url: `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}/`, secret: 'subscriber-secret-0123456789' }] },
    ingest: { maxBackoff: '2s', retryFailed: { backoff: '1s', maxBackoff: '5s', maxRuns: 3 } },
    // Two worker processes share this file: fixed metrics ports would collide.
    metrics: { temporalWorkerPort: 0, ingestWorkerPort: 0 },
  };
  const config = parseConfig(raw);
  // The worker processes read the source through the slow link; the API and tests use it directly.
  const workerConfigFile = join(dataDir, 'worker-config.json');
  writeFileSync(workerConfigFile, JSON.stringify({ ...raw, registries: [{ name: 'source', url: slowSource.url }, raw.registries[1]] }));

  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });
  const apiRedis = producerConnection(redis.url);
  apiRedis.on('error', () => undefined);
  const api = await buildApi({ config, logger, redis: apiRedis, plugins: [] });
  await api.app.listen({ host: '127.0.0.1', port: apiPort });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const ingestRedis = workerConnection(redis.url);
  ingestRedis.on('error', () => undefined);
  const ingest = startIngestWorker({ config, logger, client, redis: ingestRedis });
  onCleanup(async () => {
    await ingest.close();
    await api.app.close();
    apiRedis.disconnect();
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
    async startWorker(n) {
      const ready = join(dataDir, `worker-${n}.ready`);
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
            const layers = ((await client2.getManifest(repository, cosignTag(digest, kind))).manifest as { layers: Array<{ annotations?: Record<string, string> }> }).layers;
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
