/**
 * Fleet rescan benchmark: 10,000 stored SBOMs (200–800 packages: Debian with npm or PyPI, Zipf
 * popularity; bench/rescan-fleet.ts) against OSV data generated in the export shapes at about the
 * record counts of the Debian, npm and PyPI exports, rescanned by the real `rescan` workflow on a
 * Temporal dev server, by the real worker process (`workers/temporal-worker.ts`), with Redis and a
 * registry (the VEX reads) on loopback. Two runs: a full rescan (every image re-matched and
 * re-gated), then a delta after 100 advisories changed. Each reports its wall time from start to
 * result, the OSV refresh (loading the exports; a delta reads only the export entries that changed),
 * planning, matching and re-gating (one activity per batch), and the workflow's own overhead (wall
 * time outside any activity). One worker process runs the workflows and scan activities, with
 * RESCAN_BENCH_SCAN_WORKERS (default 0) scan-only workers beside it, as a deployment scales rescans.
 * `--quick`: 1,000 SBOMs and a tenth of the data. RESCAN_BENCH_CPU_PROF=<dir> profiles the worker.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import pLimit from 'p-limit';
import { type RescanSummary } from '../src/chain';
import { parseConfig } from '../src/config';
import { DecisionStore, evaluatePolicy, factsFromScan, policyFromConfig } from '../src/policy';
import { FleetIndex, OsvSource, RedisSbomStore, rematchStored, rescanViewOf, toCycloneDx } from '../src/scan';
import { generateKeyPair } from '../src/signing';
import { startRedis } from '../workers/local/redis-server';
import { startRegistry } from '../workers/local/registry-server';
import { startTemporalDevServer } from '../workers/local/temporal-dev-server';
import { TEMPORAL_WORKER_NODE_FLAGS } from '../workers/temporal/node-flags';
import { rescanSettings } from '../workers/temporal/schedules';
import { rescan } from '../workflows/rescan';
import { type BenchContext, type BenchRow } from './harness';
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
  /** Per activity type: wall time during which one of its activities was scheduled or running (side-by-side batches count once). */
  activities: Map<string, number>;
  /** Wall time during which no activity was scheduled or running. */
  overheadMs: number;
  summary: RescanSummary;
}

export default async function rescanBench(ctx: BenchContext): Promise<BenchRow[]> {
  const sizes = ctx.quick ? QUICK : FULL;
  const dataDir = join(ctx.workDir, 'data');
  const [redisServer, temporal, registry] = await Promise.all([
    startRedis({ dataDir: join(dataDir, 'redis') }),
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
    const seeded = await seed(config, redisServer.url, osvDir, sizes);
    ctx.log(
      `seeded ${sizes.images} images (${seeded.packages} packages, ${seeded.minPackages}–${seeded.maxPackages} per image, ${seeded.allowed} allowed) in ${Date.now() - started} ms`,
    );

    const worker = await startWorker(dataDir, configFile);
    stops.unshift(worker.stop);
    // Scan workers beside it (--role=scan), as a deployment scales rescans: the batches run side by side (rescan.parallelBatches).
    for (let i = 1; i <= SCAN_WORKERS; i++) stops.unshift((await startWorker(dataDir, configFile, `scan-worker-${i}`, 'scan')).stop);
    const connection = await Connection.connect({ address: temporal.address });
    stops.unshift(() => connection.close());
    const client = new Client({ connection, namespace: config.temporal.namespace });
    const run = async (id: string, full: boolean): Promise<Phases> => {
      const begun = Date.now();
      const handle = await client.workflow.start(rescan, {
        taskQueue: config.temporal.taskQueue,
        workflowId: id,
        args: [{ ...rescanSettings(config), ...(full ? { full: true } : {}) }],
      });
      const summary = await handle.result();
      const wallMs = Date.now() - begun;
      return { wallMs, summary, ...(await phases(client, id, begun, begun + wallMs)) };
    };

    const full = await run(`rescan-bench-full-${Date.now()}`, true);
    const fullLoad = loadavg()[0]!.toFixed(2);
    ctx.log(`full: ${describe(full)} (load ${fullLoad})`);
    const changed = changeAdvisories(osv, CHANGED_ADVISORIES);
    writeOsvExports(osvDir, osv);
    const delta = await run(`rescan-bench-delta-${Date.now()}`, false);
    const deltaLoad = loadavg()[0]!.toFixed(2);
    ctx.log(`delta (${changed.length} advisories changed): ${describe(delta)} (load ${deltaLoad})`);

    const n = sizes.images;
    const rows = (label: string, p: Phases, load: string, target: string): BenchRow[] => {
      const a = (t: string) => p.activities.get(t) ?? 0;
      const refresh = a('refreshOsvData');
      const note = `load ${load}; ${SCAN_WORKERS + 1} worker process${SCAN_WORKERS ? 'es' : ''}`;
      return [
        {
          metric: `${label}: wall, start to result`,
          ours: p.wallMs / 1000,
          unit: 's',
          runs: 1,
          note: `${note}; ${p.summary.checked} of ${n} images; target ${target} without the OSV refresh: ${((p.wallMs - refresh) / 1000).toFixed(1)} s`,
        },
        { metric: `${label}: OSV refresh (${records} records)`, ours: refresh / 1000, unit: 's', runs: 1, note },
        { metric: `${label}: plan (fingerprint, index)`, ours: a('planRescan') / 1000, unit: 's', runs: 1, note },
        // One activity per batch re-matches and re-gates (rescanGateBatch); rescanBatch and regateBatch in older workflows.
        {
          metric: `${label}: match and re-gate (rescanGateBatch)`,
          ours: (a('rescanGateBatch') + a('rescanBatch') + a('regateBatch')) / 1000,
          unit: 's',
          runs: 1,
          note,
        },
        {
          metric: `${label}: follow-ups (notify, attest, restart)`,
          ours: FOLLOW_UPS.reduce((s, t) => s + a(t), 0) / 1000,
          unit: 's',
          runs: 1,
          note: `${note}; ${p.summary.changedToDenied} to denied, ${p.summary.changedToAllowed} to allowed, ${p.summary.problems.length} problems`,
        },
        { metric: `${label}: workflow overhead (no activity running)`, ours: p.overheadMs / 1000, unit: 's', runs: 1, note },
      ];
    };
    return [
      ...rows(`full rescan, ${n} SBOMs`, full, fullLoad, '≤ 60 s'),
      ...rows(`delta, ${CHANGED_ADVISORIES} advisories changed`, delta, deltaLoad, '≤ 5 s'),
    ];
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
}

const FOLLOW_UPS = ['restartUnblocked', 'attestVerdict', 'deployedWorkloads', 'rebuildDeployed', 'notifySubscribers', 'markRescanNotified'];

function describe(p: Phases): string {
  const parts = [...p.activities].map(([t, ms]) => `${t} ${(ms / 1000).toFixed(2)} s`).join(', ');
  const s = p.summary;
  return `${(p.wallMs / 1000).toFixed(2)} s wall; ${parts}; overhead ${(p.overheadMs / 1000).toFixed(2)} s; checked ${s.checked}, recorded ${s.recorded}, denied ${s.changedToDenied}, allowed ${s.changedToAllowed}, failed ${s.failed}, plan ${JSON.stringify(s.plan)}`;
}

/** The fleet as the scan stage leaves it: SBOMs, decisions, the package index, fresh summaries of allowed images. */
async function seed(
  config: ReturnType<typeof parseConfig>,
  url: string,
  osvDir: string,
  sizes: Sizes,
): Promise<{ packages: number; minPackages: number; maxPackages: number; allowed: number }> {
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
async function startWorker(dataDir: string, configFile: string, name = 'worker', role?: 'scan'): Promise<{ stop: () => Promise<void> }> {
  const ready = join(dataDir, `${name}.ready`);
  const profile = process.env.RESCAN_BENCH_CPU_PROF;
  const log = createWriteStream(join(dataDir, `${name}.log`));
  const child = spawn(
    process.execPath,
    [
      ...TEMPORAL_WORKER_NODE_FLAGS,
      ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${resolve(profile)}`] : []),
      '--import',
      'tsx',
      join(ROOT, 'workers', 'temporal-worker.ts'),
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
