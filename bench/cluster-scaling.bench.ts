/**
 * Scaling on the cluster topology (`npm run stack:cluster`'s startCluster: two Temporal server processes
 * on PostgreSQL, Redis behind Sentinel, haproxy, the project's processes as separate processes):
 *   - chains completed per minute for a burst of pushes with 1, 2 and 4 chain + scan workers, beside the
 *     embedded stack (Temporal CLI dev server, one worker process) on the same burst;
 *   - webhook events accepted per second through haproxy with 1 and 2 API replicas;
 *   - CPU seconds per chain by process group (Temporal, PostgreSQL, Redis, our processes, the load
 *     generator), so the figures can be projected onto machines with more cores than this one.
 * Every chain here runs every stage (build-free pushes: scan, gate in dry-run, sign, sync, distribute).
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { parseConfig } from '../src/config';
import { createLogger } from '../src/log';
import { burst, type LoadTarget, settle } from '../test/support/cluster-load';
import { freeStackConfig } from '../test/support/stack-config';
import { startCluster } from '../workers/cluster';
import { freePort } from '../workers/local/managed-process';
import { findTool } from '../workers/local/tools';
import { startStack } from '../workers/stack';
import { type BenchContext, type BenchRow } from './harness';
import { cpuDelta, cpuSnapshot } from './process-cpu';
import { load } from './webhook-load';

const SETTLE_MS = 20 * 60_000;
/** Pushes in flight at once: enough to keep every worker busy without the pusher becoming the bottleneck. */
const PUSH_PARALLEL = 8;

interface Measured {
  chainsPerMin: number;
  seconds: number;
  cpuPerChain: Array<{ group: string; seconds: number }>;
  cpuTotal: number;
  lost: number;
  duplicated: number;
}

/** One burst of `count` pushes of images of their own; the clock runs from the first push to the last chain's close. */
async function measureBurst(target: LoadTarget, repository: string, count: number): Promise<Measured> {
  const before = cpuSnapshot();
  const started = Date.now();
  const digests = await burst(target, repository, count, PUSH_PARALLEL);
  const result = await settle(target, repository, digests, SETTLE_MS);
  const after = cpuSnapshot();
  const seconds = (result.lastCloseMs - started) / 1000;
  const delta = cpuDelta(before, after);
  return {
    chainsPerMin: (result.completed / seconds) * 60,
    seconds,
    cpuPerChain: delta.map((d) => ({ group: d.group, seconds: d.seconds / Math.max(1, result.completed) })),
    cpuTotal: delta.reduce((a, d) => a + d.seconds, 0),
    lost: result.lost,
    duplicated: result.duplicated,
  };
}

function cpuNote(m: Measured): string {
  const perChain = m.cpuPerChain.reduce((a, d) => a + d.seconds, 0);
  const parts = m.cpuPerChain.map((d) => `${d.group} ${Math.round(d.seconds * 1000)}`);
  return `${m.seconds.toFixed(0)} s wall, CPU ${Math.round(perChain * 1000)} ms/chain (${parts.join(', ')}); cores busy ${(m.cpuTotal / m.seconds).toFixed(2)} (machine load ${loadavg()[0]?.toFixed(1)}); lost ${m.lost}, dup ${m.duplicated}`;
}

/** Same configuration for both topologies: no vulnerability data and the policy in dry-run, so every chain runs to the end. */
function benchConfig(raw: Record<string, unknown>, dataDir: string) {
  const osv = join(dataDir, 'osv-empty');
  mkdirSync(osv, { recursive: true });
  return parseConfig({ ...raw, dataDir, log: { level: 'warn' }, policy: { mode: 'dry-run' }, scan: { osv: { directory: osv } } });
}

export default async function clusterScalingBench(ctx: BenchContext): Promise<BenchRow[]> {
  if (!findTool('temporal-server')) throw new Error('the Temporal server is not built: run `npm run setup -- --cluster` (npm run bench does)');
  const count = ctx.quick ? 40 : 200;
  const cores = `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'})`;
  const rows: BenchRow[] = [];
  const logger = createLogger({ level: 'warn', name: 'bench' });

  // The embedded stack: Temporal CLI dev server (SQLite), one Redis, one worker process running chain and scan.
  const { config: devRaw } = await freeStackConfig(join(ctx.workDir, 'dev'));
  const devConfig = benchConfig({ ...devRaw, metrics: { temporalWorkerPort: 0, ingestWorkerPort: 0 } }, join(ctx.workDir, 'dev'));
  const stack = await startStack(devConfig, logger);
  let dev: Measured;
  try {
    const connection = await Connection.connect({ address: stack.config.temporal.address as string });
    try {
      const source = devConfig.registries.find((r) => r.name === 'source')?.url as string;
      const target = { client: new Client({ connection }), sourceUrl: source, workDir: join(ctx.workDir, 'dev-images') };
      await measureBurst(target, 'scale/dev-warmup', 4);
      dev = await measureBurst(target, 'scale/dev', count);
      ctx.log(`dev server: ${dev.chainsPerMin.toFixed(1)} chains/min; ${cpuNote(dev)}`);
    } finally {
      await connection.close();
    }
  } finally {
    await stack.stop();
  }
  rows.push({
    metric: `burst of ${count}: chains/min, dev server, 1 worker process`,
    ours: dev.chainsPerMin,
    unit: '/min',
    runs: 1,
    lowerIsBetter: false,
    note: `${cores}; ${cpuNote(dev)}`,
  });

  const clusterDir = join(ctx.workDir, 'cluster');
  // As root, PostgreSQL runs as the postgres account, which must get through the scratch directory (mkdtemp makes it 0700).
  chmodSync(ctx.workDir, 0o755);
  mkdirSync(clusterDir, { recursive: true, mode: 0o755 });
  const [api, source, mirror] = [await freePort(), await freePort(), await freePort()];
  const config = benchConfig(
    {
      api: { port: api },
      registries: [
        { name: 'source', url: `http://127.0.0.1:${source}`, managed: true },
        { name: 'mirror', url: `http://127.0.0.1:${mirror}`, managed: true },
      ],
    },
    clusterDir,
  );
  const cluster = await startCluster(config, logger, { counts: { api: 2, 'ingest-worker': 2, 'chain-worker': 1, 'scan-worker': 1 } });
  try {
    const connection = await Connection.connect({ address: cluster.config.temporal.address as string });
    try {
      const target = {
        client: new Client({ connection, namespace: config.temporal.namespace }),
        sourceUrl: `http://127.0.0.1:${source}`,
        workDir: join(ctx.workDir, 'cluster-images'),
      };
      await measureBurst(target, 'scale/cluster-warmup', 4);
      for (const workers of [1, 2, 4]) {
        await cluster.scale('chain-worker', workers);
        await cluster.scale('scan-worker', workers);
        const m = await measureBurst(target, `scale/cluster-${workers}`, count);
        ctx.log(`cluster, ${workers} chain + ${workers} scan workers: ${m.chainsPerMin.toFixed(1)} chains/min; ${cpuNote(m)}`);
        rows.push({
          metric: `burst of ${count}: chains/min, cluster, ${workers} chain + ${workers} scan worker${workers > 1 ? 's' : ''}`,
          ours: m.chainsPerMin,
          peer: dev.chainsPerMin,
          peerName: 'dev server',
          unit: '/min',
          runs: 1,
          lowerIsBetter: false,
          note: `${cores}; ${cpuNote(m)}`,
        });
      }
    } finally {
      await connection.close();
    }

    // Webhooks alone: the ingest workers stop so the queued (made-up) events are not processed meanwhile.
    await cluster.scale('ingest-worker', 0);
    const secret = config.sources[0]?.secret as string;
    const path = `/webhooks/${config.sources[0]?.name ?? 'source'}`;
    const seconds = ctx.quick ? 5 : 15;
    const perReplicas: Record<number, Awaited<ReturnType<typeof load>>> = {};
    for (const replicas of [1, 2]) {
      await cluster.scale('api', replicas);
      // haproxy checks every second and marks a replica down after two failed checks, up after one good one.
      await new Promise((r) => setTimeout(r, 4000));
      await load(cluster.haproxy.apiPort, path, 2, { secret, connections: 32 });
      perReplicas[replicas] = await load(cluster.haproxy.apiPort, path, seconds, { secret, connections: 32 });
      const r = perReplicas[replicas];
      ctx.log(`${replicas} API replica(s): ${Math.round(r.perSecond)} events/s, p99 ${r.p99} ms, ${r.failures} failures`);
    }
    const one = perReplicas[1] as Awaited<ReturnType<typeof load>>;
    const two = perReplicas[2] as Awaited<ReturnType<typeof load>>;
    rows.push({
      metric: 'webhook events/s through haproxy, 2 API replicas',
      ours: two.perSecond,
      peer: one.perSecond,
      peerName: '1 API replica',
      unit: 'ev/s',
      runs: 1,
      lowerIsBetter: false,
      note: `${cores}, machine load ${loadavg()[0]?.toFixed(1)}; 32 connections, ${seconds} s each; replica-acknowledged enqueue (Redis WAIT); p99 ${two.p99} vs ${one.p99} ms; non-2xx ${two.failures} / ${one.failures}`,
    });
  } finally {
    await cluster.stop();
  }
  return rows;
}
