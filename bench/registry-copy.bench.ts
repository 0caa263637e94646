/**
 * Copies one ≥100 MB multi-layer image (random, incompressible layers) between two local
 * docker-registry instances with our client, `skopeo copy` and `crane copy`, in rotating order,
 * median of the runs. Two cases: an empty target registry, and a target repository that already has
 * every layer but not the manifest (a re-sync of an image whose layers were replicated before).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { copyImage, RegistryClient, SYNC_USER_AGENT } from '../src/registry';
import { startRegistry } from '../workers/local/registry-server';
import { findTool, requireTool } from '../workers/local/tools';
import { pushImage, writeOciImage } from '../test/support/images';
import { type BenchContext, type BenchRow, median, timeMs } from './harness';
import { processCpuMs as cpuMs } from './process-cpu';

const run = promisify(execFile);

type Tool = 'ours' | 'skopeo' | 'crane';

export default async function registryCopy(ctx: BenchContext): Promise<BenchRow[]> {
  const layers = ctx.quick ? 4 : 8;
  const layerBytes = (ctx.quick ? 8 : 14) * 1024 * 1024;
  const runs = ctx.quick ? 3 : 5;
  const skopeo = requireTool('skopeo', 'Debian package skopeo');
  const crane = findTool('crane');
  const [src, dst] = await Promise.all([
    startRegistry({ name: 'bench-src', dataDir: ctx.workDir }),
    startRegistry({ name: 'bench-dst', dataDir: ctx.workDir }),
  ]);
  const source = new RegistryClient({ url: src.url, userAgent: SYNC_USER_AGENT });
  const target = new RegistryClient({ url: dst.url, userAgent: SYNC_USER_AGENT });
  try {
    ctx.log(`writing a ${layers}-layer image of ${(layers * layerBytes) / 2 ** 20} MB`);
    const layout = join(ctx.workDir, 'image');
    const image = await writeOciImage(
      layout,
      { layers: Array.from({ length: layers }, (_, i) => [{ path: `data-${i}.bin`, content: randomBytes(layerBytes) }]) },
      'v1',
    );
    await pushImage(layout, 'v1', `${src.host}/bench/image:v1`);
    const { manifest } = await source.getManifest('bench/image', image.digest);
    const blobs = 'layers' in manifest ? [manifest.config, ...manifest.layers] : [];
    const megabytes = blobs.reduce((n, b) => n + b.size, 0) / 2 ** 20;

    const copyWith: Record<Tool, (to: RegistryClient, repo: string) => Promise<unknown>> = {
      ours: (to, repo) => copyImage({ source, sourceRepo: 'bench/image', target: to, targetRepo: repo, digest: image.digest, tags: ['synced'] }),
      skopeo: (to, repo) =>
        run(
          skopeo,
          [
            'copy',
            '--quiet',
            '--all',
            '--preserve-digests',
            '--src-tls-verify=false',
            '--dest-tls-verify=false',
            `docker://${src.host}/bench/image@${image.digest}`,
            `docker://${to.host}/${repo}:synced`,
          ],
          { timeout: 300_000 },
        ),
      crane: (to, repo) =>
        run(crane as string, ['copy', '--insecure', `${src.host}/bench/image@${image.digest}`, `${to.host}/${repo}:synced`], { timeout: 300_000 }),
    };
    const tools: Tool[] = crane ? ['ours', 'skopeo', 'crane'] : ['ours', 'skopeo'];

    // Empty target: a fresh registry for every copy, so no tool can mount blobs it saw earlier
    // (skopeo's blob-info cache would). Start-up and clean-up are not timed. The CPU time of the
    // client (this process for ours, the reaped child for the others), the source and the target
    // registry is logged per copy (Linux /proc; clock ticks of 10 ms).
    const cpu: Record<Tool, { client: number[]; source: number[]; target: number[] }> = {
      ours: { client: [], source: [], target: [] },
      skopeo: { client: [], source: [], target: [] },
      crane: { client: [], source: [], target: [] },
    };
    const intoFreshRegistry = async (tool: Tool, i: number): Promise<number> => {
      const dataDir = join(ctx.workDir, `cold-${tool}-${i}`);
      const fresh = await startRegistry({ name: 'target', dataDir });
      const client = new RegistryClient({ url: fresh.url, userAgent: SYNC_USER_AGENT });
      try {
        const pids = { source: src.process.pid as number, target: fresh.process.pid as number };
        const before = { self: cpuMs('self'), source: cpuMs(pids.source), target: cpuMs(pids.target) };
        const ms = await timeMs(() => copyWith[tool](client, 'bench/image'));
        const self = cpuMs('self');
        if (i >= 0) {
          cpu[tool].client.push(tool === 'ours' ? self.own - before.self.own : self.reaped - before.self.reaped);
          cpu[tool].source.push(cpuMs(pids.source).own - before.source.own);
          cpu[tool].target.push(cpuMs(pids.target).own - before.target.own);
        }
        return ms;
      } finally {
        await client.close();
        await fresh.process.stop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    };
    // Layers present: a fresh repository with every blob linked in (mount, no bytes move), no manifest.
    await copyImage({ source, sourceRepo: 'bench/image', target, targetRepo: 'seed/image', digest: image.digest });
    const intoRepoWithLayers = async (tool: Tool, i: number): Promise<number> => {
      const repo = `warm/${tool}-${i}`;
      for (const blob of blobs) if (!(await target.mountBlob(repo, blob.digest, 'seed/image'))) throw new Error(`could not seed ${blob.digest}`);
      return timeMs(() => copyWith[tool](target, repo));
    };

    // One unmeasured copy of each kind per tool: ours runs in a long-lived worker, so it is
    // measured with its transfer path already compiled, as it runs in production.
    for (const tool of tools) {
      await intoFreshRegistry(tool, -1);
      await intoRepoWithLayers(tool, -1);
    }

    const rows: BenchRow[] = [];
    for (const [label, measure] of [
      ['empty target', intoFreshRegistry],
      ['target has the layers', intoRepoWithLayers],
    ] as const) {
      const times: Record<Tool, number[]> = { ours: [], skopeo: [], crane: [] };
      for (let i = 0; i < runs; i++) {
        // Rotate the order so no tool always runs first or last.
        for (let k = 0; k < tools.length; k++) {
          const tool = tools[(i + k) % tools.length] as Tool;
          times[tool].push(await measure(tool, i));
        }
      }
      ctx.log(`${label}: ${tools.map((t) => `${t} ${times[t].map((ms) => Math.round(ms)).join('/')} ms`).join(', ')}`);
      if (label === 'empty target') {
        for (const t of tools) {
          const c = cpu[t];
          ctx.log(`${label}, CPU ms per copy (median): ${t} ${median(c.client)}, source registry ${median(c.source)}, target registry ${median(c.target)}`);
        }
      }
      const metric = `copy ${Math.round(megabytes)} MB, ${layers} layers, ${label}`;
      rows.push({ metric, ours: median(times.ours), peer: median(times.skopeo), peerName: 'skopeo copy', unit: 'ms', runs });
      if (crane) rows.push({ metric, ours: median(times.ours), peer: median(times.crane), peerName: 'crane copy', unit: 'ms', runs });
    }
    return rows;
  } finally {
    await Promise.all([source.close(), target.close()]);
    await Promise.all([src.process.stop(), dst.process.stop()]);
  }
}
