/**
 * Sustained webhook ingestion with durable enqueue: autocannon on loopback POSTs distribution
 * notifications (a new digest each) to the API process, which answers 202 only once the event is
 * a BullMQ job in Redis (AOF on). Reports accepted events/s and p50/p99 latency, then checks that
 * every 202 has its queue entry. The peer is the floor: a bare Fastify process answering 202
 * to the same bodies without parsing or enqueueing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { IngestQueue } from '../src/ingest';
import { freePort, portOpen } from '../workers/local/managed-process';
import { startRedis } from '../workers/local/redis-server';
import { type BenchContext, type BenchRow, median } from './harness';
import { load, type Run, WEBHOOK_SECRET as SECRET } from './webhook-load';

const ROOT = resolve(__dirname, '..');

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
