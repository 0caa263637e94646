/**
 * Sustained webhook ingestion with durable enqueue: autocannon on loopback POSTs distribution
 * notifications (a new digest each) to the API process, which answers 202 only once the event is
 * a BullMQ job in Redis (AOF on). Reports accepted events/s and p50/p99 latency, then checks that
 * every 202 has its queue entry. The peer is the floor: a bare Fastify process answering 202
 * to the same bodies without parsing or enqueueing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { IngestQueue } from '../src/ingest';
import { freePort, portOpen } from '../workers/local/managed-process';
import { startRedis } from '../workers/local/redis-server';
import { type BenchContext, type BenchRow, median } from './harness';

interface AutocannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}
/** The part of autocannon's API used here (the package ships no type declarations). */
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  requests: Array<{ method: string; path: string; headers: Record<string, string>; setupRequest: (req: AutocannonRequest) => AutocannonRequest }>;
}) => Promise<{ '2xx': number; non2xx: number; errors: number; duration: number; latency: { p50: number; p99: number } }>;
const autocannon = createRequire(__filename)('autocannon') as Autocannon;

const ROOT = resolve(__dirname, '..');
const SECRET = 'bench-webhook-secret-0123456789';
const CONTENT_TYPE = 'application/vnd.docker.distribution.events.v1+json';

let sequence = 0;
/** A distribution envelope with one manifest push of a digest never sent before. */
function nextEnvelope(): string {
  const n = sequence++;
  const digest = `sha256:${createHash('sha256').update(`bench-${n}`).digest('hex')}`;
  return JSON.stringify({
    events: [
      {
        id: `bench-${n}`,
        timestamp: new Date().toISOString(),
        action: 'push',
        target: {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          size: 345,
          digest,
          length: 345,
          repository: `bench/app-${n % 50}`,
          url: `http://127.0.0.1:5000/v2/bench/app-${n % 50}/manifests/${digest}`,
          tag: `t${n}`,
        },
        request: { id: `r-${n}`, addr: '127.0.0.1:1', host: '127.0.0.1:5000', method: 'PUT', useragent: 'skopeo/1.9.3' },
        actor: {},
        source: { addr: 'bench:5000', instanceID: 'bench' },
      },
    ],
  });
}

async function startProcess(args: string[], env: NodeJS.ProcessEnv, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 300 && !(await portOpen(port)); i++) await delay(100);
  if (!(await portOpen(port))) throw new Error(`${args.join(' ')} did not listen on ${port}`);
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

interface Run {
  accepted: number;
  perSecond: number;
  p50: number;
  p99: number;
  failures: number;
}

async function load(port: number, path: string, seconds: number): Promise<Run> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 16,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path,
        headers: { 'content-type': CONTENT_TYPE, authorization: `Bearer ${SECRET}` },
        setupRequest: (req) => ({ ...req, body: nextEnvelope() }),
      },
    ],
  });
  return {
    accepted: result['2xx'],
    perSecond: result['2xx'] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures: result.non2xx + result.errors,
  };
}

const BARE_SERVER = `
const app = require('fastify')({ logger: false, bodyLimit: 1048576 });
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.post('/webhooks/bench', async (_req, reply) => reply.code(202).send({ outcome: 'accepted' }));
app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
`;

export default async function ingestBench(ctx: BenchContext): Promise<BenchRow[]> {
  const seconds = ctx.quick ? 3 : 10;
  const runs = ctx.quick ? 1 : 3;
  const redisServer = await startRedis({ dataDir: join(ctx.workDir, 'redis') });
  const apiPort = await freePort();
  const barePort = await freePort();
  const configFile = join(ctx.workDir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      redis: { url: redisServer.url },
      api: { host: '127.0.0.1', port: apiPort },
      registries: [{ name: 'source', url: 'http://127.0.0.1:5000' }],
      sources: [{ name: 'bench', registry: 'source', format: 'distribution', secret: SECRET }],
      sync: { targets: [] },
      log: { level: 'warn' },
    }),
  );
  const api = await startProcess(['--import', 'tsx', join(ROOT, 'workers', 'api.ts')], { DCHAIN_CONFIG: configFile, DCHAIN_READY_FILE: '' }, apiPort);
  const bare = await startProcess(['-e', BARE_SERVER], { PORT: String(barePort) }, barePort);
  const redis = new Redis(redisServer.url);
  const queue = new IngestQueue(redis, { dedupTtlMs: 60_000, attempts: 1 });
  try {
    ctx.log(`warming up (${seconds} s runs × ${runs}, 16 connections)`);
    const warmUp = await load(apiPort, '/webhooks/bench', 1);
    await load(barePort, '/webhooks/bench', 1);
    const ours: Run[] = [];
    const peer: Run[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(await load(apiPort, '/webhooks/bench', seconds));
      peer.push(await load(barePort, '/webhooks/bench', seconds));
      ctx.log(`run ${i + 1}: ${Math.round(ours[i]?.perSecond ?? 0)} events/s, p99 ${ours[i]?.p99 ?? NaN} ms`);
    }
    // Every 202 (warm-up included) must be a job in Redis: nothing consumes the queue here.
    const counts = await queue.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
    const jobs = Object.values(counts).reduce((a, b) => a + b, 0);
    const answered = warmUp.accepted + ours.reduce((a, r) => a + r.accepted, 0);
    const failures = ours.reduce((a, r) => a + r.failures, 0);
    const lost = Math.max(0, answered - jobs);
    const note = `16 connections, ${seconds} s; ${jobs} jobs in Redis for ${answered} answers 202; ${failures} non-2xx`;
    return [
      {
        metric: 'accepted events/s (durable enqueue)',
        ours: median(ours.map((r) => r.perSecond)),
        peer: median(peer.map((r) => r.perSecond)),
        peerName: 'bare Fastify 202',
        unit: 'ev/s',
        runs,
        lowerIsBetter: false,
        note,
      },
      { metric: 'p50 latency', ours: median(ours.map((r) => r.p50)), peer: median(peer.map((r) => r.p50)), peerName: 'bare Fastify 202', unit: 'ms', runs },
      { metric: 'p99 latency', ours: median(ours.map((r) => r.p99)), peer: median(peer.map((r) => r.p99)), peerName: 'bare Fastify 202', unit: 'ms', runs },
      { metric: 'events lost (202 without queue entry)', ours: lost, unit: 'events', runs },
    ];
  } finally {
    await queue.close();
    redis.disconnect();
    await stopProcess(api);
    await stopProcess(bare);
    await redisServer.process.stop();
  }
}
