/**
 * Scanner benchmark: each image (Debian minbase, an npm app, a Python app) in each transport (docker-archive,
 * OCI layout, registry), scanned by our compiled CLI (`node dist/cli/dchain.js scan`, process start-up
 * included) next to osv-scanner, syft, Grype and Trivy at the versions scripts/setup.ts pins. Every command
 * runs under GNU time for its peak RSS; ours and each peer alternate. Packages are compared by purl (type, name,
 * version) with each peer, findings with the peers that match against the same OSV records.
 *
 * Same data: osv-scanner reads the fixture records from its offline database layout. Grype and Trivy only read
 * their own databases (a Grype v6 sqlite file, a Trivy bolt file) and neither can fetch one here, so they are
 * compared on packages and time; Trivy catalogs without a database, Grype refuses to start without one.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
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

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..');
const FIXTURES = join(ROOT, 'test/fixtures/osv');
const OURS = join(ROOT, 'dist/cli/dchain.js');

type Transport = 'docker-archive' | 'oci' | 'registry';
const TRANSPORTS: Transport[] = ['docker-archive', 'oci', 'registry'];

interface Inputs {
  archive: string;
  layout: string;
  tag: string;
  registryRef: string;
}

interface Measured {
  ms: number;
  rssMb: number;
  stdout: string;
}

interface ToolResult {
  packages: Set<string>;
  /** `<advisory id> <package name>` pairs, when the tool matched against the same data. */
  findings?: Set<string>;
}

interface Tool {
  name: string;
  /** The command line for a transport, or undefined when the tool cannot read it. */
  args(t: Transport, i: Inputs): string[] | undefined;
  env?: NodeJS.ProcessEnv;
  /** Exit codes that mean success (osv-scanner exits 1 when it found vulnerabilities). */
  ok?: number[];
  parse(stdout: string): ToolResult;
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

/** `type:name@version` from a purl, with the epoch folded into Debian versions and PyPI names normalised (PEP 503). */
export function purlKey(purl: string): string | undefined {
  const m = /^pkg:([a-z]+)\/([^?#]+)@([^?#]+)(?:\?([^#]*))?/.exec(purl);
  if (!m) return undefined;
  const [, type, path, rawVersion, query] = m as unknown as [string, string, string, string, string | undefined];
  if (!['deb', 'npm', 'pypi', 'golang', 'maven', 'apk', 'rpm'].includes(type)) return undefined;
  const segments = path.split('/').map(decodeURIComponent);
  // OS package purls carry the distribution as namespace, which tools spell differently.
  let name = ['deb', 'apk', 'rpm'].includes(type) ? segments[segments.length - 1]! : segments.join('/');
  if (type === 'pypi') name = name.toLowerCase().replace(/[-_.]+/g, '-');
  let version = decodeURIComponent(rawVersion);
  const epoch = new URLSearchParams(query ?? '').get('epoch');
  if (epoch && epoch !== '0' && !version.includes(':')) version = `${epoch}:${version}`;
  return `${type}:${name}@${version}`;
}

const keys = (purls: (string | undefined)[]) => new Set(purls.flatMap((p) => (p ? [purlKey(p)].filter((k): k is string => k !== undefined) : [])));

function ours(): Tool {
  return {
    name: 'ours',
    args: (t, i) => [
      'scan',
      t === 'docker-archive' ? `docker-archive:${i.archive}` : t === 'oci' ? `oci:${i.layout}:${i.tag}` : i.registryRef,
      '--format',
      'json',
      '--no-progress',
      '--osv-dir',
      FIXTURES,
    ],
    parse: (stdout) => {
      const doc = JSON.parse(stdout) as { packages: { purl: string }[]; findings: { id: string; package: { name: string } }[] };
      return { packages: keys(doc.packages.map((p) => p.purl)), findings: new Set(doc.findings.map((f) => `${f.id} ${f.package.name}`)) };
    },
  };
}

function osvScanner(dbDir: string): Tool {
  return {
    name: 'osv-scanner',
    // osv-scanner reads images from a docker-archive (or through a Docker daemon, which this machine has not).
    args: (t, i) =>
      t === 'docker-archive' ? ['scan', 'image', '--archive', '--offline-vulnerabilities', '--all-packages', '--format', 'json', i.archive] : undefined,
    env: { OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY: dbDir },
    ok: [0, 1],
    parse: (stdout) => {
      const doc = JSON.parse(stdout) as {
        results?: {
          packages: { package: { name: string; version: string; ecosystem: string; os_package_name?: string }; vulnerabilities?: { id: string }[] }[];
        }[];
      };
      const pkgs = (doc.results ?? []).flatMap((r) => r.packages);
      const type: Record<string, string> = { Debian: 'deb', npm: 'npm', PyPI: 'pypi', Go: 'golang', Maven: 'maven', Alpine: 'apk' };
      return {
        packages: keys(
          pkgs.map((p) => {
            const eco = p.package.ecosystem.split(':')[0]!;
            return type[eco]
              ? `pkg:${type[eco]}/${encodeURIComponent(p.package.os_package_name ?? p.package.name)}@${encodeURIComponent(p.package.version)}`
              : undefined;
          }),
        ),
        findings: new Set(pkgs.flatMap((p) => (p.vulnerabilities ?? []).map((v) => `${v.id} ${p.package.os_package_name ?? p.package.name}`))),
      };
    },
  };
}

function syft(): Tool {
  return {
    name: 'syft',
    args: (t, i) => [
      'scan',
      t === 'docker-archive' ? `docker-archive:${i.archive}` : t === 'oci' ? `oci-dir:${i.layout}` : `registry:${i.registryRef}`,
      '-o',
      'json',
      '-q',
    ],
    env: { SYFT_REGISTRY_INSECURE_USE_HTTP: 'true', SYFT_CHECK_FOR_APP_UPDATE: 'false' },
    parse: (stdout) => ({ packages: keys((JSON.parse(stdout) as { artifacts: { purl?: string }[] }).artifacts.map((a) => a.purl)) }),
  };
}

function trivy(cacheDir: string): Tool {
  return {
    name: 'trivy',
    // Without a vulnerability database (none can be fetched here) Trivy still catalogs: CycloneDX lists the packages.
    args: (t, i) => [
      'image',
      '--quiet',
      '--cache-dir',
      cacheDir,
      '--skip-db-update',
      '--offline-scan',
      '--scanners',
      'vuln',
      '--format',
      'cyclonedx',
      ...(t === 'registry' ? ['--image-src', 'remote', '--insecure', i.registryRef] : ['--input', t === 'docker-archive' ? i.archive : i.layout]),
    ],
    env: { TRIVY_NO_PROGRESS: 'true', TRIVY_DISABLE_VEX_NOTICE: 'true' },
    parse: (stdout) => ({ packages: keys(((JSON.parse(stdout) as { components?: { purl?: string }[] }).components ?? []).map((c) => c.purl)) }),
  };
}

/**
 * osv-scanner's offline database, from the same fixture records: <dir>/osv-scalibr/<ecosystem>/all.zip for
 * v2.6 (its matcher lives in osv-scalibr now), <dir>/osv-scanner/<ecosystem>/all.zip for v2.0.
 */
function osvScannerDb(dir: string): string {
  for (const sub of ['osv-scalibr', 'osv-scanner']) {
    for (const [eco, fixtures] of [
      ['Debian', 'debian'],
      ['npm', 'npm'],
      ['PyPI', 'pypi'],
    ] as const) {
      mkdirSync(join(dir, sub, eco), { recursive: true });
      execFileSync('python3', [
        '-c',
        'import sys,zipfile,glob,os\nz=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED)\nfor f in glob.glob(sys.argv[2]+"/*.json"): z.write(f, os.path.basename(f))\nz.close()',
        join(dir, sub, eco, 'all.zip'),
        join(FIXTURES, fixtures),
      ]);
    }
  }
  return dir;
}

function describeDiff(ours: Set<string>, theirs: Set<string>, peer: string): string {
  const onlyOurs = [...ours].filter((x) => !theirs.has(x)).sort();
  const onlyTheirs = [...theirs].filter((x) => !ours.has(x)).sort();
  if (onlyOurs.length + onlyTheirs.length === 0) return `identical (${ours.size})`;
  const list = (xs: string[]) => (xs.length ? `${xs.length}: ${xs.slice(0, 6).join(', ')}${xs.length > 6 ? ', …' : ''}` : '0');
  return `ours ${ours.size} / ${peer} ${theirs.size}; only ours ${list(onlyOurs)}; only ${peer} ${list(onlyTheirs)}`;
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
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
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
    const peers: Tool[] = [];
    const missing: string[] = [];
    const osv = findTool('osv-scanner');
    if (osv) peers.push({ ...osvScanner(osvScannerDb(join(ctx.workDir, 'osv-db'))), name: 'osv-scanner' });
    else missing.push('osv-scanner');
    if (findTool('syft')) peers.push(syft());
    else missing.push('syft');
    if (findTool('trivy')) peers.push(trivy(join(ctx.workDir, 'trivy-cache')));
    else missing.push('trivy');
    if (missing.length) ctx.log(`not installed (npm run setup -- --bench builds them): ${missing.join(', ')}`);
    const bins: Record<string, [string, string[]]> = {
      ours: [process.execPath, [OURS]],
      'osv-scanner': [osv ?? '', []],
      syft: [findTool('syft') ?? '', []],
      trivy: [findTool('trivy') ?? '', []],
    };

    for (const image of images) {
      const inputs = await prepare(image, ctx.workDir, registry.host);
      for (const transport of TRANSPORTS) {
        const me = ours();
        const oursTimes: number[] = [];
        const oursRss: number[] = [];
        let oursResult: ToolResult | undefined;
        const peerRows: { name: string; ms: number; rss: number; note: string }[] = [];
        for (const peer of peers) {
          const args = peer.args(transport, inputs);
          if (!args) continue;
          const times: number[] = [];
          const rss: number[] = [];
          let result: ToolResult | undefined;
          for (let i = 0; i < runs; i++) {
            loads.push(loadavg()[0]!);
            // Alternating: ours, then the peer, on the same machine state.
            const [oBin, oPre] = bins.ours!;
            const o = await measure(oBin, [...oPre, ...me.args(transport, inputs)!], me.env, [0], rssFile);
            oursTimes.push(o.ms);
            oursRss.push(o.rssMb);
            oursResult ??= me.parse(o.stdout);
            const [pBin, pPre] = bins[peer.name]!;
            const p = await measure(pBin, [...pPre, ...args], peer.env, peer.ok ?? [0], rssFile);
            times.push(p.ms);
            rss.push(p.rssMb);
            result ??= peer.parse(p.stdout);
          }
          const notes = [`packages ${describeDiff(oursResult!.packages, result!.packages, peer.name)}`];
          if (result!.findings) notes.push(`findings ${describeDiff(oursResult!.findings!, result!.findings, peer.name)}`);
          peerRows.push({ name: peer.name, ms: median(times), rss: Math.max(...rss), note: notes.join('; ') });
        }
        const oursMs = median(oursTimes);
        const oursPeak = oursRss.length ? Math.max(...oursRss) : Number.NaN;
        for (const p of peerRows) {
          rows.push({
            metric: `${image.name}, ${transport}`,
            ours: oursMs,
            peer: p.ms,
            peerName: p.name,
            unit: 'ms',
            runs,
            note: `RSS ${oursPeak.toFixed(0)} / ${p.rss.toFixed(0)} MB; ${p.note}`,
          });
        }
        if (peerRows.length === 0) {
          // No peer for this transport (none installed): our figures alone, still measured.
          for (let i = 0; i < runs; i++) {
            loads.push(loadavg()[0]!);
            const [oBin, oPre] = bins.ours!;
            const o = await measure(oBin, [...oPre, ...me.args(transport, inputs)!], me.env, [0], rssFile);
            oursTimes.push(o.ms);
            oursRss.push(o.rssMb);
            oursResult ??= me.parse(o.stdout);
          }
          rows.push({
            metric: `${image.name}, ${transport}`,
            ours: median(oursTimes),
            unit: 'ms',
            runs,
            note: `no peer installed; RSS ${Math.max(...oursRss).toFixed(0)} MB; ${oursResult!.packages.size} packages, ${oursResult!.findings!.size} findings`,
          });
        }
        if (peerRows.length) {
          const fastest = peerRows.reduce((a, b) => (b.ms < a.ms ? b : a));
          const leanest = Math.min(...peerRows.map((p) => p.rss));
          const met = oursMs < fastest.ms && oursPeak <= leanest + 50;
          rows.push({
            metric: `${image.name}, ${transport}: vs fastest peer`,
            ours: oursMs,
            peer: fastest.ms,
            peerName: fastest.name,
            unit: 'ms',
            runs,
            note: `target: faster than the fastest peer and RSS ≤ lowest peer's + 50 MB (${leanest.toFixed(0)} + 50): ${met ? 'met' : 'not met'} (ours ${oursPeak.toFixed(0)} MB)`,
          });
        }
      }
    }
    rows.push(await rematchRow(images[0]!, osv, join(ctx.workDir, 'osv-db'), ctx.workDir));
    rows.push({
      metric: 'machine load during the scan bench (1-min load average, 2 cores)',
      ours: median(loads),
      unit: '',
      runs: loads.length,
      note: `min ${Math.min(...loads).toFixed(1)}, max ${Math.max(...loads).toFixed(1)}; Grype not run: it needs its own database, none can be fetched or built here from our OSV records (see README)`,
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
