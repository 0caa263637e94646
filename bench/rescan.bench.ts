/**
 * Fleet rescan benchmark: 10,000 stored SBOMs (200–800 packages: Debian with npm or PyPI, Zipf
 * popularity; bench/rescan-fleet.ts) against OSV data generated in the export shapes at about the
 * record counts of the Debian, npm and PyPI exports, rescanned by the real `rescan` workflow on a
 * Temporal dev server, by the real worker process (`workers/temporal-worker.ts`), with Redis and a
 * registry (the VEX reads) on loopback. A full rescan (every image re-matched and re-gated), then
 * deltas one after another (RESCAN_BENCH_DELTAS, default 3: the delta rows are their medians, each run
 * listed in the log): the same 100 advisories changed, then changed back, and so on, so every delta
 * reaches the same images (another 100 picked at random may reach most of the fleet: a popular
 * package's advisory widened to every version). Then a full rescan again, as the daily one runs after
 * earlier rescans (the first follows the scan stage's gates, and so knows nothing of what each record was
 * gated on). Each reports its wall time from start to
 * result, the OSV refresh (loading the exports; a delta reads only the export entries that changed),
 * planning, matching and re-gating (one activity per batch), and the workflow's own overhead (wall
 * time outside any activity). One worker process, compiled as production runs it (dist/, built first when
 * missing or stale; RESCAN_BENCH_FROM_SOURCE=1: through tsx), runs the workflows and scan activities, with
 * RESCAN_BENCH_SCAN_WORKERS (default 0) scan-only workers beside it, as a deployment scales rescans.
 * `--quick`: 1,000 SBOMs and a tenth of the data. RESCAN_BENCH_CPU_PROF=<dir> profiles the worker;
 * RESCAN_BENCH_TRACE_GC=<file> runs it with `--trace-gc` and copies its log (every collection) to <file> when it stops.
 *
 * RESCAN_BENCH_FLEET_CACHE=<dir>: seeding the fleet takes most of a run (10–14 minutes on 2 cores),
 * and runs half an hour apart differ by as much as a change under test. With this set, the seeded
 * Redis data is kept in <dir> (per size) and later runs start Redis on a copy of it instead of seeding,
 * so two trees can be run back to back on the same data in a few minutes each. For trees that store
 * SBOMs, decisions and the fleet index alike only: clear <dir> when a stored format changes.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import pLimit from 'p-limit';
import { type RescanSummary } from '../src/chain';
import { parseConfig } from '../src/config';
import { DecisionStore, evaluatePolicy, factsFromScan, findingFactsDigest, policyFromConfig } from '../src/policy';
import { findingsDigest, FleetIndex, OsvSource, RedisSbomStore, rematchStored, rescanViewOf, toCycloneDx } from '../src/scan';
import { generateKeyPair } from '../src/signing';
import { startRedis } from '../workers/local/redis-server';
import { startRegistry } from '../workers/local/registry-server';
import { startTemporalDevServer } from '../workers/local/temporal-dev-server';
import { TEMPORAL_WORKER_NODE_FLAGS } from '../workers/temporal/node-flags';
import { rescanSettings } from '../workers/temporal/schedules';
import { rescan } from '../workflows/rescan';
import { type BenchContext, type BenchRow, compiledEntry, median } from './harness';
import { cpuSnapshot } from './process-cpu';
import { changeAdvisories, generateFleet, generateOsv, type Sizes, writeOsvExports } from './rescan-fleet';

const ROOT = resolve(__dirname, '..');

/**
 * About the size of OSV's exports (Debian: DEBIAN-CVE, DSA and DLA records; npm: GitHub advisories and
 * the malicious-package reports; PyPI: PYSEC, GitHub and malicious-package records).
 */
const FULL: Sizes = {
  images: 10_000,
  debianSources: 8_000,
  npmPackages: 60_000,
  pypiPackages: 25_000,
  debianRecords: 60_000,
  npmRecords: 60_000,
  npmMalicious: 40_000,
  pypiRecords: 18_000,
  pypiMalicious: 8_000,
};
const QUICK: Sizes = {
  images: 1_000,
  debianSources: 2_500,
  npmPackages: 12_000,
  pypiPackages: 5_000,
  debianRecords: 6_000,
  npmRecords: 6_000,
  npmMalicious: 4_000,
  pypiRecords: 1_800,
  pypiMalicious: 800,
};
const CHANGED_ADVISORIES = 100;
/** Scan-only worker processes started beside the worker (RESCAN_BENCH_SCAN_WORKERS, default 0: the one worker alone). */
const SCAN_WORKERS = Number(process.env.RESCAN_BENCH_SCAN_WORKERS ?? 0);
if (!Number.isInteger(SCAN_WORKERS) || SCAN_WORKERS < 0 || SCAN_WORKERS > 8)
  throw new Error(`RESCAN_BENCH_SCAN_WORKERS must be an integer from 0 to 8, got ${process.env.RESCAN_BENCH_SCAN_WORKERS}`);
const DELTAS = Number(process.env.RESCAN_BENCH_DELTAS ?? 3);
if (!Number.isInteger(DELTAS) || DELTAS < 1 || DELTAS > 20)
  throw new Error(`RESCAN_BENCH_DELTAS must be an integer from 1 to 20, got ${process.env.RESCAN_BENCH_DELTAS}`);
const FLEET_CACHE = process.env.RESCAN_BENCH_FLEET_CACHE;
const KEY_PASSWORD = 'rescan-bench-key-password';

const HYGIENE = {
  setuidFiles: [],
  shells: ['/bin/sh'],
  networkTools: [],
  user: '1000',
  runsAsRoot: false,
  privateKeys: [],
  totalSizeBytes: 120_000_000,
  compressedSizeBytes: 45_000_000,
  layerCount: 6,
  wastedBytes: 0,
  efficiency: 1,
  issues: [],
};

interface Phases {
  wallMs: number;
  /** The 1-minute load average when it ended. */
  load: number;
  /**
   * CPU time the worker processes used during the run (user and system, process-cpu.ts; undefined where
   * /proc cannot tell). On a shared machine the same tree's wall time moves by up to a fifth with the
   * hour, and its CPU time moves with it: it explains a run (busy throughout, or waiting) rather than
   * steadying a comparison.
   */
  workerCpuMs: number | undefined;
  /** Per activity type: wall time during which one of its activities was scheduled or running (side-by-side batches count once). */
  activities: Map<string, number>;
  /** Wall time during which no activity was scheduled or running. */
  overheadMs: number;
  summary: RescanSummary;
}

export default async function rescanBench(ctx: BenchContext): Promise<BenchRow[]> {
  const sizes = ctx.quick ? QUICK : FULL;
  // The worker as production runs it, compiled; RESCAN_BENCH_FROM_SOURCE=1: its sources through tsx, as `npm start` without a build does.
  const entry =
    process.env.RESCAN_BENCH_FROM_SOURCE === '1'
      ? ['--import', 'tsx', join(ROOT, 'workers', 'temporal-worker.ts')]
      : [await compiledEntry('workers/temporal-worker', ctx.log)];
  ctx.log(`worker: ${entry.length === 1 ? 'compiled (dist/)' : 'the sources through tsx'}`);
  const dataDir = join(ctx.workDir, 'data');
  const kept = FLEET_CACHE ? join(resolve(FLEET_CACHE), `fleet-${createHash('sha256').update(JSON.stringify(sizes)).digest('hex').slice(0, 12)}`) : undefined;
  const restored = kept !== undefined && existsSync(join(kept, 'seeded.json'));
  if (restored) copyAof(join(kept, 'appendonlydir'), join(dataDir, 'redis', 'appendonlydir'));
  const [redisServer, temporal, registry] = await Promise.all([
    // Loading a kept fleet (a few GB of AOF) takes longer than an empty start.
    startRedis({ dataDir: join(dataDir, 'redis'), readyTimeoutMs: restored ? 600_000 : undefined }),
    startTemporalDevServer({ dataDir: join(dataDir, 'temporal'), headless: true }),
    startRegistry({ name: 'source', dataDir }),
  ]);
  const stops: Array<() => Promise<unknown>> = [() => redisServer.process.stop(), () => temporal.process.stop(), () => registry.process.stop()];
  try {
    const osvDir = join(dataDir, 'osv');
    let started = Date.now();
    const osv = generateOsv(sizes);
    writeOsvExports(osvDir, osv);
    const records = [...osv.values()].reduce((n, r) => n + r.length, 0);
    ctx.log(`OSV data: ${[...osv].map(([e, r]) => `${e} ${r.length}`).join(', ')} records, written in ${Date.now() - started} ms`);

    const keys = await generateKeyPair(KEY_PASSWORD);
    writeFileSync(join(dataDir, 'cosign.key'), keys.privateKeyPem, { mode: 0o600 });
    const raw = {
      dataDir,
      log: { level: 'warn' },
      temporal: { address: temporal.address, taskQueue: 'rescan-bench' },
      redis: { url: redisServer.url },
      registries: [{ name: 'source', url: registry.url }],
      scan: { osv: { directory: osvDir } },
      signing: { key: { kind: 'file', path: join(dataDir, 'cosign.key'), passwordEnv: 'RESCAN_BENCH_KEY_PASSWORD' } },
      rescan: { enabled: false },
      sync: { targets: [] },
      metrics: { temporalWorkerPort: 0, ingestWorkerPort: 0 },
    };
    const config = parseConfig(raw);
    const configFile = join(dataDir, 'config.json');
    writeFileSync(configFile, JSON.stringify(raw));

    started = Date.now();
    let seeded: Seeded;
    if (restored) {
      seeded = JSON.parse(readFileSync(join(kept, 'seeded.json'), 'utf8')) as Seeded;
    } else {
      seeded = await seed(config, redisServer.url, osvDir, sizes);
      if (kept) await keepFleet(redisServer.url, join(dataDir, 'redis', 'appendonlydir'), kept, seeded);
    }
    ctx.log(
      `seeded ${sizes.images} images (${seeded.packages} packages, ${seeded.minPackages}–${seeded.maxPackages} per image, ${seeded.allowed} allowed) ${restored ? `earlier: Redis started on a copy of the fleet kept in ${kept}` : `in ${Date.now() - started} ms`}`,
    );

    const memory = { seeded: await usedMemory(redisServer.url), rescanned: 0 };
    const worker = await startWorker(dataDir, configFile, entry);
    stops.unshift(worker.stop);
    // Scan workers beside it (--role=scan), as a deployment scales rescans: the batches run side by side (rescan.parallelBatches).
    for (let i = 1; i <= SCAN_WORKERS; i++) stops.unshift((await startWorker(dataDir, configFile, entry, `scan-worker-${i}`, 'scan')).stop);
    const connection = await Connection.connect({ address: temporal.address });
    stops.unshift(() => connection.close());
    const client = new Client({ connection, namespace: config.temporal.namespace });
    const run = async (id: string, full: boolean): Promise<Phases> => {
      const cpuBefore = workersCpu();
      const begun = Date.now();
      const handle = await client.workflow.start(rescan, {
        taskQueue: config.temporal.taskQueue,
        workflowId: id,
        args: [{ ...rescanSettings(config), ...(full ? { full: true } : {}) }],
      });
      const summary = await handle.result();
      const wallMs = Date.now() - begun;
      const cpuAfter = workersCpu();
      const workerCpuMs = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
      return { wallMs, load: loadavg()[0]!, workerCpuMs, summary, ...(await phases(client, id, begun, begun + wallMs)) };
    };

    const full = await run(`rescan-bench-full-${Date.now()}`, true);
    ctx.log(`full: ${describe(full)} (load ${full.load.toFixed(2)})`);
    const deltas: Phases[] = [];
    const original = structuredClone(osv);
    for (let i = 1; i <= DELTAS; i++) {
      // Odd: the 100 changed (as earlier single-delta runs changed them); even: changed back as they were.
      const data = structuredClone(original);
      const changed = i % 2 === 1 ? `${changeAdvisories(data, CHANGED_ADVISORIES).length} advisories changed` : `the same ${CHANGED_ADVISORIES} changed back`;
      writeOsvExports(osvDir, data);
      const delta = await run(`rescan-bench-delta-${i}-${Date.now()}`, false);
      deltas.push(delta);
      ctx.log(`delta ${i} of ${DELTAS} (${changed}): ${describe(delta)} (load ${delta.load.toFixed(2)})`);
    }
    // The daily full rescan as it runs after earlier ones (on the last delta's data): the fleet index knows
    // what each record was gated on, which the first one, right after the scan stage's gates, does not.
    const again = await run(`rescan-bench-full-again-${Date.now()}`, true);
    ctx.log(`full again, after the deltas: ${describe(again)} (load ${again.load.toFixed(2)})`);
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    memory.rescanned = await usedMemory(redisServer.url);
    const mb = (bytes: number) => bytes / 2 ** 20;
    ctx.log(
      `Redis memory: ${mb(memory.seeded).toFixed(0)} MB seeded, ${mb(memory.rescanned).toFixed(0)} MB after the full rescan, ${DELTAS} deltas and the full rescan again`,
    );
    ctx.log(
      `delta medians of ${DELTAS}: without the OSV refresh ${s(median(deltas.map(outsideRefresh)))} (${deltas.map((d) => s(outsideRefresh(d))).join(', ')}); match and re-gate ${s(median(deltas.map(matchAndRegate)))} (${deltas.map((d) => s(matchAndRegate(d))).join(', ')})`,
    );

    const n = sizes.images;
    const rows = (label: string, runs: Phases[], target: string): BenchRow[] => {
      const m = (f: (p: Phases) => number) => median(runs.map(f)) / 1000;
      const a = (t: string) => (p: Phases) => p.activities.get(t) ?? 0;
      const each = runs.length > 1 ? ` (each: ${runs.map((p) => (outsideRefresh(p) / 1000).toFixed(1)).join(', ')} s)` : '';
      const note = `load ${runs.map((p) => p.load.toFixed(2)).join(', ')}; ${SCAN_WORKERS + 1} worker process${SCAN_WORKERS ? 'es' : ''}`;
      const last = runs[runs.length - 1]!.summary;
      const cpus = runs.map((p) => p.workerCpuMs);
      const cpu = cpus.every((c) => c !== undefined) ? `; workers' CPU ${cpus.map((c) => (c / 1000).toFixed(1)).join(', ')} s` : '';
      return [
        {
          metric: `${label}: wall, start to result`,
          ours: m((p) => p.wallMs),
          unit: 's',
          runs: runs.length,
          note: `${note}; ${last.checked} of ${n} images; target ${target} without the OSV refresh: ${m(outsideRefresh).toFixed(1)} s${each}${cpu}`,
        },
        { metric: `${label}: OSV refresh (${records} records)`, ours: m(a('refreshOsvData')), unit: 's', runs: runs.length, note },
        { metric: `${label}: plan (fingerprint, index)`, ours: m(a('planRescan')), unit: 's', runs: runs.length, note },
        { metric: `${label}: match and re-gate (rescanGateBatch)`, ours: m(matchAndRegate), unit: 's', runs: runs.length, note },
        {
          metric: `${label}: follow-ups (notify, attest, restart)`,
          ours: m((p) => FOLLOW_UPS.reduce((sum, t) => sum + a(t)(p), 0)),
          unit: 's',
          runs: runs.length,
          note: `${note}; ${runs.map((p) => `${p.summary.changedToDenied} to denied, ${p.summary.changedToAllowed} to allowed, ${p.summary.problems.length} problems`).join('; ')}`,
        },
        { metric: `${label}: workflow overhead (no activity running)`, ours: m((p) => p.overheadMs), unit: 's', runs: runs.length, note },
      ];
    };
    return [
      ...rows(`full rescan, ${n} SBOMs`, [full], '≤ 60 s'),
      ...rows(`delta, ${CHANGED_ADVISORIES} advisories changed`, deltas, '≤ 5 s'),
      ...rows(`full rescan again, after the deltas`, [again], '≤ 60 s'),
      {
        metric: `Redis memory after the rescans (used_memory)`,
        ours: mb(memory.rescanned),
        unit: 'MB',
        runs: 1,
        note: `${mb(memory.seeded).toFixed(0)} MB once seeded (${n} SBOMs, decisions with their history, the package index); ${[full, ...deltas, again].reduce((sum, p) => sum + p.summary.recorded, 0)} new decisions recorded by the rescans`,
      },
    ];
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
}

/** Redis's used_memory, in bytes. */
async function usedMemory(url: string): Promise<number> {
  const redis = new Redis(url);
  try {
    const found = /^used_memory:(\d+)/m.exec(await redis.info('memory'));
    if (!found) throw new Error('Redis INFO memory has no used_memory');
    return Number(found[1]);
  } finally {
    redis.disconnect();
  }
}

const FOLLOW_UPS = ['restartUnblocked', 'attestVerdict', 'deployedWorkloads', 'rebuildDeployed', 'notifySubscribers', 'markRescanNotified'];

/** A run's wall time without its OSV refresh (what the targets are set on). */
const outsideRefresh = (p: Phases) => p.wallMs - (p.activities.get('refreshOsvData') ?? 0);
/** One activity per batch re-matches and re-gates (rescanGateBatch); rescanBatch and regateBatch in older workflows. */
const matchAndRegate = (p: Phases) => ['rescanGateBatch', 'rescanBatch', 'regateBatch'].reduce((sum, t) => sum + (p.activities.get(t) ?? 0), 0);

interface Seeded {
  packages: number;
  minPackages: number;
  maxPackages: number;
  allowed: number;
}

/**
 * Keeps the seeded fleet's Redis files in `to` (RESCAN_BENCH_FLEET_CACHE): the AOF rewritten whole
 * (one base file of everything seeded), then its files copied while nothing writes.
 */
async function keepFleet(url: string, aofDir: string, to: string, seeded: Seeded): Promise<void> {
  const redis = new Redis(url);
  try {
    const idle = async () => {
      for (;;) {
        const info = await redis.info('persistence');
        if (/aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info)) return info;
        await delay(500);
      }
    };
    // Redis rewrites a growing AOF on its own, and refuses a second rewrite while one runs: after it.
    await idle();
    await redis.bgrewriteaof();
    if (!/aof_last_bgrewrite_status:ok/.test(await idle())) throw new Error('keeping the seeded fleet: the AOF rewrite failed');
  } finally {
    redis.disconnect();
  }
  const partial = `${to}.partial`;
  rmSync(partial, { recursive: true, force: true });
  copyAof(aofDir, join(partial, 'appendonlydir'));
  writeFileSync(join(partial, 'seeded.json'), JSON.stringify(seeded));
  rmSync(to, { recursive: true, force: true });
  renameSync(partial, to);
}

/** Copies an AOF directory's manifest and the files it lists as current (base, increments), not those it keeps as history. */
function copyAof(from: string, to: string): void {
  const manifest = readFileSync(join(from, 'appendonly.aof.manifest'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !/ type h\b/.test(line));
  mkdirSync(to, { recursive: true });
  for (const line of manifest) {
    const file = /^file (\S+) /.exec(line)?.[1];
    if (!file) throw new Error(`unreadable AOF manifest line: ${line}`);
    copyFileSync(join(from, file), join(to, file));
  }
  writeFileSync(join(to, 'appendonly.aof.manifest'), `${manifest.join('\n')}\n`);
}

function describe(p: Phases): string {
  const parts = [...p.activities].map(([t, ms]) => `${t} ${(ms / 1000).toFixed(2)} s`).join(', ');
  const s = p.summary;
  const cpu = p.workerCpuMs === undefined ? '' : ` (workers' CPU ${(p.workerCpuMs / 1000).toFixed(2)} s)`;
  return `${(p.wallMs / 1000).toFixed(2)} s wall${cpu}; ${parts}; overhead ${(p.overheadMs / 1000).toFixed(2)} s; checked ${s.checked}, recorded ${s.recorded}, denied ${s.changedToDenied}, allowed ${s.changedToAllowed}, failed ${s.failed}, plan ${JSON.stringify(s.plan)}`;
}

/** CPU milliseconds the worker processes (the worker and any scan workers) have used so far; undefined where /proc cannot tell. */
function workersCpu(): number | undefined {
  try {
    const groups = cpuSnapshot();
    return ((groups.get('worker (chain + scan)') ?? 0) + (groups.get('scan worker') ?? 0)) * 1000;
  } catch {
    return undefined;
  }
}

/** The fleet as the scan stage leaves it: SBOMs, decisions, the package index, fresh summaries of allowed images. */
async function seed(config: ReturnType<typeof parseConfig>, url: string, osvDir: string, sizes: Sizes): Promise<Seeded> {
  const redis = new Redis(url);
  try {
    const db = await new OsvSource({ directory: osvDir }).refresh();
    const sbomStore = new RedisSbomStore(redis);
    const decisions = new DecisionStore(redis);
    const fleet = new FleetIndex(redis);
    const policy = policyFromConfig(config);
    const limit = pLimit(16);
    let packages = 0;
    let minPackages = Infinity;
    let maxPackages = 0;
    const allowed: string[] = [];
    const now = new Date();
    await Promise.all(
      generateFleet(sizes).map((image) =>
        limit(async () => {
          const stored = {
            registry: 'source',
            repository: image.repository,
            digest: image.digest,
            scannedAt: now.toISOString(),
            os: image.os,
            hygiene: HYGIENE,
            sbom: toCycloneDx(
              { registryHost: 'registry.example', repository: image.repository, digest: image.digest, os: image.os, toolVersion: 'bench' },
              image.packages,
              now,
            ),
          };
          const ref = await sbomStore.put(stored);
          const { summary, index } = rematchStored(db, rescanViewOf(stored), ref, now, undefined);
          const facts = factsFromScan(summary);
          const decision = evaluatePolicy(facts, policy, now);
          await decisions.record(facts, decision, now);
          await fleet.add(image.digest, index(), db.info.version);
          // As the gate stage leaves it (after the scan stage's add): an image with no VEX attached.
          await fleet.setGatedRecord(image.digest, findingsDigest(summary.findings, []), findingFactsDigest(facts.findings));
          if (decision.allowed) allowed.push(image.digest);
          packages += image.packages.length;
          minPackages = Math.min(minPackages, image.packages.length);
          maxPackages = Math.max(maxPackages, image.packages.length);
        }),
      ),
    );
    // The chain signed a summary of each allowed image as it delivered it.
    await fleet.setAttested(allowed, now.toISOString());
    return { packages, minPackages, maxPackages, allowed: allowed.length };
  } finally {
    redis.disconnect();
  }
}

/** The real worker process, profiled when RESCAN_BENCH_CPU_PROF names a directory. */
async function startWorker(
  dataDir: string,
  configFile: string,
  entry: readonly string[],
  name = 'worker',
  role?: 'scan',
): Promise<{ stop: () => Promise<void> }> {
  const ready = join(dataDir, `${name}.ready`);
  const profile = process.env.RESCAN_BENCH_CPU_PROF;
  const traceGc = name === 'worker' ? process.env.RESCAN_BENCH_TRACE_GC : undefined;
  const log = createWriteStream(join(dataDir, `${name}.log`));
  const child = spawn(
    process.execPath,
    [
      ...TEMPORAL_WORKER_NODE_FLAGS,
      ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${resolve(profile)}`] : []),
      // Not allowed in NODE_OPTIONS, so passed here.
      ...(traceGc ? ['--trace-gc'] : []),
      ...entry,
      ...(role ? [`--role=${role}`] : []),
    ],
    {
      cwd: ROOT,
      env: { ...process.env, DCHAIN_CONFIG: configFile, DCHAIN_READY_FILE: ready, RESCAN_BENCH_KEY_PASSWORD: KEY_PASSWORD },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const flushed = new Promise<void>((done) => log.once('finish', () => done()));
  const deadline = Date.now() + 120_000;
  while (!existsSync(ready)) {
    if (child.exitCode !== null) throw new Error(`the worker exited (${child.exitCode}); see ${join(dataDir, `${name}.log`)}`);
    if (Date.now() > deadline) throw new Error('the worker did not start within 2 minutes');
    await delay(200);
  }
  return {
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, delay(30_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
      if (traceGc) {
        await Promise.race([flushed, delay(5_000)]);
        copyFileSync(join(dataDir, `${name}.log`), resolve(traceGc));
      }
    },
  };
}

/** Activity time by type, and the wall time outside every activity (the workflow's own), from the run's history. */
async function phases(client: Client, workflowId: string, begun: number, ended: number): Promise<{ activities: Map<string, number>; overheadMs: number }> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, { type: string; at: number }>();
  const spansOf = new Map<string, Array<[number, number]>>();
  const spans: Array<[number, number]> = [];
  const ms = (t: unknown) => {
    const time = t as { seconds?: { toNumber(): number } | number; nanos?: number } | undefined;
    const seconds = typeof time?.seconds === 'number' ? time.seconds : (time?.seconds?.toNumber() ?? 0);
    return seconds * 1000 + (time?.nanos ?? 0) / 1e6;
  };
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes)
      scheduled.set(id, { type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at: ms(e.eventTime) });
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (done) {
      const s = scheduled.get(String(done.scheduledEventId));
      if (!s) continue;
      const end = ms(e.eventTime);
      spansOf.set(s.type, [...(spansOf.get(s.type) ?? []), [s.at, end]]);
      spans.push([s.at, end]);
    }
  }
  // Per type, the wall time during which one of its activities ran: batches side by side count once.
  const activities = new Map([...spansOf].map(([type, list]) => [type, covered(list, begun)]));
  return { activities, overheadMs: Math.max(0, ended - begun - covered(spans, begun)) };
}

/** Milliseconds after `from` covered by at least one of `spans`. */
function covered(spans: Array<[number, number]>, from: number): number {
  const sorted = [...spans].sort((a, b) => a[0] - b[0]);
  let busy = 0;
  let cursor = from;
  for (const [start, to] of sorted) {
    const begin = Math.max(start, cursor);
    if (to > begin) {
      busy += to - begin;
      cursor = to;
    }
  }
  return busy;
}
