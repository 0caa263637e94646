/**
 * Scanner benchmark: each image (Debian minbase, an npm app, a Python app) in each transport (docker-archive,
 * OCI layout, registry), scanned by our compiled CLI (bin/dchain-compiled: `node dist/cli/dchain.js scan` from its
 * startup snapshot, process start-up included)
 * next to osv-scanner, syft, Grype and Trivy at the versions scripts/setup.ts pins. Every command runs under GNU
 * time for its peak RSS; ours and each peer alternate. Packages are compared by purl (type, name, version) with each
 * peer, findings (`<OSV id> <package>`) with the peers that match: osv-scanner, Grype and Trivy all match offline
 * against databases written from the same OSV records ours reads (bench/scan-peers.ts), and the bench reports, per
 * image and peer, the findings only ours and only the peer have.
 */
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startRegistry } from '../workers/local/registry-server';
import { findTool } from '../workers/local/tools';
import { pushImage } from '../test/support/images';
import { MemorySbomStore, openLocalImage, OsvSource, rescanStored, scanImage } from '../src/scan';
import { CACHE_DIR } from '../test/integration/scan/rootfs-image';
import { type BenchContext, type BenchRow, median, timeMs } from './harness';
import { benchImages, type BenchImage } from './scan-images';
import {
  AdvisoryIds,
  describeDiff,
  FIXTURES,
  grype,
  type Inputs,
  osvScanner,
  osvScannerDb,
  ours,
  peerDb,
  setDiff,
  syft,
  type Tool,
  type ToolResult,
  type Transport,
  trivy,
} from './scan-peers';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..');
const OURS = join(ROOT, 'dist/cli/dchain.js');
const TRANSPORTS: Transport[] = ['docker-archive', 'oci', 'registry'];

interface Measured {
  ms: number;
  rssMb: number;
  stdout: string;
}

/** Wall time (spawn to exit, start-up included) and peak RSS (GNU time's %M) of one command. */
async function measure(bin: string, args: string[], env: NodeJS.ProcessEnv | undefined, ok: number[], rssFile: string): Promise<Measured> {
  const started = process.hrtime.bigint();
  let stdout: string;
  try {
    ({ stdout } = await run('/usr/bin/time', ['-f', '%M', '-o', rssFile, bin, ...args], {
      env: { ...process.env, ...env },
      maxBuffer: 1024 * 1024 * 1024,
      timeout: 10 * 60_000,
    }));
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (e.code === undefined || !ok.includes(e.code))
      throw new Error(`${bin} ${args.join(' ')} exited ${e.code}: ${(e.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
    stdout = e.stdout ?? '';
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const rssKb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
  return { ms, rssMb: rssKb / 1024, stdout };
}

/** Builds the compiled CLI when dist/ is missing or older than the sources it is built from. */
function ensureCompiled(log: (msg: string) => void): void {
  const newest = (dir: string): number => {
    let t = 0;
    for (const f of execFileSync('find', [dir, '-name', '*.ts', '-newer', OURS], { encoding: 'utf8' }).split('\n').filter(Boolean))
      t = Math.max(t, statSync(f).mtimeMs);
    return t;
  };
  if (existsSync(OURS) && ['src', 'cli'].every((d) => newest(join(ROOT, d)) === 0)) return;
  log('compiling (npm run build)');
  // The whole build, not tsc alone: the CLI the bench runs is the bundle scripts/bundle-cli.ts makes from tsc's output.
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
}

/** The peers installed here (`npm run setup -- --bench` builds them), each with its database written from the records. */
function installedPeers(workDir: string, log: (msg: string) => void): Tool[] {
  const peers: Tool[] = [];
  const missing: string[] = [];
  const ids = new AdvisoryIds(FIXTURES);
  const osv = findTool('osv-scanner');
  if (osv) peers.push(osvScanner(osv, osvScannerDb(join(workDir, 'osv-db'))));
  else missing.push('osv-scanner');
  const syftBin = findTool('syft');
  if (syftBin) peers.push(syft(syftBin));
  else missing.push('syft');
  // Each matcher with the tool that writes its database from the records; without that database it is not compared.
  for (const [name, writer, make] of [
    ['grype', 'grype-osv-db', (bin: string, db: string) => grype(bin, db, ids)],
    ['trivy', 'trivy-osv-db', (bin: string, db: string) => trivy(bin, db, ids)],
  ] as const) {
    const bin = findTool(name);
    const writerBin = findTool(writer);
    if (!bin || !writerBin) {
      missing.push(bin ? writer : name);
      continue;
    }
    const started = Date.now();
    const db = peerDb(writerBin, join(workDir, `${name}-db`));
    log(`${name}: database written from the OSV records by ${writer} in ${Date.now() - started} ms`);
    peers.push(make(bin, db));
  }
  if (missing.length) log(`not installed (npm run setup -- --bench builds them): ${missing.join(', ')}`);
  return peers;
}

/** Per image and peer, the findings only ours and only the peer have, over every transport the peer read. */
type FindingsDiff = Map<string, { ours: number; peer: number; onlyOurs: Set<string>; onlyPeer: Set<string>; transports: Transport[] }>;

function findingsRows(image: string, diffs: FindingsDiff, runs: number, log: (msg: string) => void): BenchRow[] {
  return [...diffs].map(([peer, d]) => {
    const list = (xs: Set<string>) => (xs.size ? [...xs].sort().join(', ') : 'none');
    const note = `only ours: ${list(d.onlyOurs)}; only ${peer}: ${list(d.onlyPeer)} (${d.transports.join(', ')})`;
    log(`findings ${image} vs ${peer}: ${note}`);
    return { metric: `${image}: findings vs ${peer}`, ours: d.ours, peer: d.peer, peerName: peer, unit: 'findings', runs, note };
  });
}

export default async function scanBench(ctx: BenchContext): Promise<BenchRow[]> {
  ensureCompiled(ctx.log);
  const runs = ctx.quick ? 1 : 3;
  const images = await benchImages(ctx.workDir, ctx.log);
  const registry = await startRegistry({ name: 'bench', dataDir: join(ctx.workDir, 'registry') });
  const rssFile = join(ctx.workDir, 'rss');
  const rows: BenchRow[] = [];
  const loads: number[] = [];
  try {
    const peers = installedPeers(ctx.workDir, ctx.log);
    // A copy made now: a directory's records count as updated when their files were written, and the checkout's
    // may be older than scan.osv.maxAge (6 h), which our scanner refuses as stale while the peers do not check.
    const osvDir = join(ctx.workDir, 'osv-records');
    cpSync(FIXTURES, osvDir, { recursive: true });
    const me = ours(osvDir);
    for (const image of images) {
      const inputs = await prepare(image, ctx.workDir, registry.host);
      const diffs: FindingsDiff = new Map();
      for (const transport of TRANSPORTS) {
        const oursTimes: number[] = [];
        const oursRss: number[] = [];
        let oursResult: ToolResult | undefined;
        const runOurs = async () => {
          loads.push(loadavg()[0]!);
          const o = await measure(me.bin, [...(me.pre ?? []), ...me.args(transport, inputs)!], me.env, [0], rssFile);
          oursTimes.push(o.ms);
          oursRss.push(o.rssMb);
          oursResult ??= me.parse(o.stdout);
          return oursResult;
        };
        const peerRows: { name: string; ms: number; rss: number; note: string }[] = [];
        for (const peer of peers) {
          const args = peer.args(transport, inputs);
          if (!args) continue;
          const times: number[] = [];
          const rss: number[] = [];
          let result: ToolResult | undefined;
          for (let i = 0; i < runs; i++) {
            // Alternating: ours, then the peer, on the same machine state.
            await runOurs();
            loads.push(loadavg()[0]!);
            const p = await measure(peer.bin, [...(peer.pre ?? []), ...args], peer.env, peer.ok ?? [0], rssFile);
            times.push(p.ms);
            rss.push(p.rssMb);
            result ??= peer.parse(p.stdout);
          }
          const mine = oursResult!;
          const notes = [`packages ${describeDiff(mine.packages, result!.packages, peer.name)}`];
          if (result!.findings) {
            notes.push(`findings ${describeDiff(mine.findings!, result!.findings, peer.name)}`);
            const { onlyOurs, onlyPeer } = setDiff(mine.findings!, result!.findings);
            const d = diffs.get(peer.name) ?? {
              ours: mine.findings!.size,
              peer: result!.findings.size,
              onlyOurs: new Set(),
              onlyPeer: new Set(),
              transports: [],
            };
            onlyOurs.forEach((x) => d.onlyOurs.add(x));
            onlyPeer.forEach((x) => d.onlyPeer.add(x));
            d.transports.push(transport);
            diffs.set(peer.name, d);
          }
          peerRows.push({ name: peer.name, ms: median(times), rss: Math.max(...rss), note: notes.join('; ') });
        }
        // No peer reads this transport (none installed): our figures alone, still measured.
        if (peerRows.length === 0) for (let i = 0; i < runs; i++) await runOurs();
        const oursMs = median(oursTimes);
        const oursPeak = Math.max(...oursRss);
        const metric = `${image.name}, ${transport}`;
        for (const p of peerRows)
          rows.push({
            metric,
            ours: oursMs,
            peer: p.ms,
            peerName: p.name,
            unit: 'ms',
            runs,
            note: `RSS ${oursPeak.toFixed(0)} / ${p.rss.toFixed(0)} MB; ${p.note}`,
          });
        if (peerRows.length === 0) {
          const r = oursResult!;
          rows.push({
            metric,
            ours: oursMs,
            unit: 'ms',
            runs,
            note: `no peer installed; RSS ${oursPeak.toFixed(0)} MB; ${r.packages.size} packages, ${r.findings!.size} findings`,
          });
        } else {
          const fastest = peerRows.reduce((a, b) => (b.ms < a.ms ? b : a));
          const leanest = Math.min(...peerRows.map((p) => p.rss));
          const fast = oursMs < fastest.ms;
          const lean = oursPeak <= leanest + 50;
          rows.push({
            metric: `${metric}: vs fastest peer`,
            ours: oursMs,
            peer: fastest.ms,
            peerName: fastest.name,
            unit: 'ms',
            runs,
            // Each half of the target said apart, so a row that misses on time does not read as missing on memory.
            note: `target: faster than the fastest peer: ${fast ? 'met' : 'not met'}; RSS ≤ lowest peer's + 50 MB (${leanest.toFixed(0)} + 50): ${lean ? 'met' : 'not met'} (ours ${oursPeak.toFixed(0)} MB)`,
          });
        }
      }
      rows.push(...findingsRows(image.name, diffs, runs, ctx.log));
    }
    rows.push(await rematchRow(images[0]!, findTool('osv-scanner'), join(ctx.workDir, 'osv-db'), ctx.workDir));
    rows.push({
      metric: 'machine load during the scan bench (1-min load average, 2 cores)',
      ours: median(loads),
      unit: '',
      runs: loads.length,
      note: `min ${Math.min(...loads).toFixed(1)}, max ${Math.max(...loads).toFixed(1)}`,
    });
    return rows;
  } finally {
    await registry.process.stop();
    rmSync(rssFile, { force: true });
  }
}

/**
 * Re-matching a stored SBOM (what every rescan does per image) in process, next to osv-scanner matching the same
 * image's dpkg database offline against the same records.
 */
async function rematchRow(image: BenchImage, osvScannerBin: string | undefined, osvDb: string, workDir: string): Promise<BenchRow> {
  const osv = new OsvSource({ directory: FIXTURES });
  const sbomStore = new MemorySbomStore();
  const local = await openLocalImage('oci', image.layout, image.tag);
  const scanned = await scanImage(
    { source: local.source, registryName: 'oci', registryHost: 'oci', osv, sbomStore },
    { repository: local.repository, reference: local.reference },
  );
  const rematch: number[] = [];
  for (let i = 0; i < 20; i++) rematch.push(await timeMs(() => rescanStored({ osv, sbomStore }, scanned.summary.digest)));
  if (!osvScannerBin) return { metric: 're-match a stored SBOM (Debian)', ours: median(rematch), unit: 'ms', runs: 20, note: 'osv-scanner not installed' };
  const statusDir = join(workDir, 'dpkg');
  mkdirSync(statusDir, { recursive: true });
  execFileSync('tar', [
    '-xf',
    join(CACHE_DIR, 'debootstrap-bookworm-nodev.tar'),
    '-C',
    statusDir,
    './var/lib/dpkg/status',
    './etc/os-release',
    './usr/lib/os-release',
  ]);
  const peer: number[] = [];
  for (let i = 0; i < 5; i++) {
    peer.push(
      await timeMs(() =>
        run(osvScannerBin, ['scan', 'source', '--offline-vulnerabilities', '--format', 'json', '-L', `dpkg-status:${join(statusDir, 'var/lib/dpkg/status')}`], {
          env: { ...process.env, OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY: osvDb },
          maxBuffer: 64 * 1024 * 1024,
        }).catch((e: { code?: number }) => {
          if (e.code !== 1) throw e; // 1: vulnerabilities found
        }),
      ),
    );
  }
  return {
    metric: 're-match a stored SBOM (Debian; osv-scanner: its dpkg status, offline DB, process start-up included)',
    ours: median(rematch),
    peer: median(peer),
    peerName: 'osv-scanner',
    unit: 'ms',
    runs: 20,
    note: `target ≤ 20 ms; ${scanned.findings.length} findings`,
  };
}

/** The image as a docker-archive (skopeo, uncompressed layers as docker save writes them) and in the registry. */
async function prepare(image: BenchImage, workDir: string, registryHost: string): Promise<Inputs> {
  const archive = join(workDir, `${image.name}.docker.tar`);
  rmSync(archive, { force: true });
  await run('skopeo', ['copy', '--quiet', `oci:${image.layout}:${image.tag}`, `docker-archive:${archive}:bench/${image.name}:${image.tag}`], {
    timeout: 10 * 60_000,
  });
  const registryRef = `${registryHost}/bench/${image.name}:${image.tag}`;
  await pushImage(image.layout, image.tag, registryRef);
  return { archive, layout: image.layout, tag: image.tag, registryRef };
}
