/**
 * The product's headline numbers on the whole local stack (`npm start`'s startStack: Temporal dev
 * server, Redis, two registries, API, workers as separate processes): push-to-distributed latency
 * (skopeo push finished → chain completed: scanned, gated, signed, synced, promoted) for a small and a
 * ~100 MB image, and chains completed per minute for a burst of pushes. There is no peer product to
 * run beside it; the rows report ours alone.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import pLimit from 'p-limit';
import { parseConfig } from '../src/config';
import { createLogger } from '../src/log';
import { busyboxSpec, pushImage, writeOciImage } from '../test/support/images';
import { freeStackConfig } from '../test/support/stack-config';
import { startStack } from '../workers/stack';
import { type BenchContext, type BenchRow, median } from './harness';
import { chainWorkflowId } from '../src/chain';

async function waitForChain(client: Client, workflowId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const result = (await client.workflow.getHandle(workflowId).result()) as { stage: string };
      if (result.stage !== 'done') throw new Error(`${workflowId} ended in ${result.stage}`);
      return;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError) || Date.now() > deadline) throw err;
      await delay(50);
    }
  }
}

export default async function chainBench(ctx: BenchContext): Promise<BenchRow[]> {
  const { config: raw, ports } = await freeStackConfig(join(ctx.workDir, 'stack'));
  const { source } = ports;
  const config = parseConfig({ ...raw, log: { level: 'warn' } });
  const stack = await startStack(config, createLogger({ level: 'warn', pretty: false }));
  const connection = await Connection.connect({ address: stack.config.temporal.address as string });
  const client = new Client({ connection });
  const rows: BenchRow[] = [];
  let n = 0;
  const pushAndWait = async (layout: string, repository: string, digest: string) => {
    await pushImage(layout, 'v1', `127.0.0.1:${source}/${repository}:v1`);
    const start = process.hrtime.bigint();
    await waitForChain(client, chainWorkflowId({ registry: 'source', repository, digest }), 300_000);
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  try {
    const runs = ctx.quick ? 3 : 5;
    // Each run pushes a new image (a fresh digest: one chain per digest).
    const small: number[] = [];
    for (let i = 0; i < runs; i++) {
      const layout = join(ctx.workDir, `small-${i}`);
      const desc = await writeOciImage(layout, busyboxSpec({ user: '1000', extra: [{ path: 'etc/build-id', content: `small-${i}-${Date.now()}` }] }), 'v1');
      small.push(await pushAndWait(layout, `bench/small-${i}`, desc.digest));
    }
    rows.push({ metric: 'push → distributed, small image (1 MB)', ours: median(small), unit: 'ms', runs, note: 'target ≤ 5 s' });

    const largeMb = ctx.quick ? 32 : 100;
    const large: number[] = [];
    for (let i = 0; i < (ctx.quick ? 1 : 3); i++) {
      const layout = join(ctx.workDir, `large-${i}`);
      const layers = Array.from({ length: 4 }, (_, l) => [{ path: `data/${l}.bin`, content: randomBytes((largeMb / 4) * 1024 * 1024) }]);
      const desc = await writeOciImage(layout, { ...busyboxSpec({ user: '1000' }), layers: [...busyboxSpec().layers, ...layers], user: '1000' }, 'v1');
      large.push(await pushAndWait(layout, `bench/large-${i}`, desc.digest));
    }
    rows.push({ metric: `push → distributed, ${largeMb} MB image`, ours: median(large), unit: 'ms', runs: large.length, note: 'target ≤ 10 s' });

    const burst = ctx.quick ? 20 : 200;
    const layouts = await Promise.all(
      Array.from({ length: burst }, async (_, i) => {
        const layout = join(ctx.workDir, `burst-${i}`);
        const desc = await writeOciImage(layout, busyboxSpec({ user: '1000', extra: [{ path: 'etc/build-id', content: `burst-${i}-${Date.now()}` }] }), 'v1');
        return { layout, repository: `bench/burst-${n++}`, digest: desc.digest };
      }),
    );
    const started = process.hrtime.bigint();
    const limit = pLimit(8);
    await Promise.all(layouts.map((l) => limit(() => pushImage(l.layout, 'v1', `127.0.0.1:${source}/${l.repository}:v1`))));
    await Promise.all(layouts.map((l) => waitForChain(client, chainWorkflowId({ registry: 'source', repository: l.repository, digest: l.digest }), 900_000)));
    const minutes = Number(process.hrtime.bigint() - started) / 6e10;
    rows.push({
      metric: `burst of ${burst} pushes: chains completed`,
      ours: burst / minutes,
      unit: '/min',
      runs: 1,
      lowerIsBetter: false,
      note: `all ${burst} done in ${(minutes * 60).toFixed(1)} s`,
    });
  } finally {
    await connection.close();
    await stack.stop();
  }
  ctx.log(rows.map((r) => `${r.metric}: ${r.ours.toFixed(0)} ${r.unit}`).join('; '));
  return rows;
}
