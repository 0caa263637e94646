/**
 * Scanner benchmark on a ~100 MB (compressed) debootstrap Debian 12 image in a local registry:
 * - cold scan (registry → packages, findings, hygiene) next to syft's cataloging of the same image;
 * - re-matching the stored SBOM next to osv-scanner matching the same dpkg database offline;
 * - packages compared with syft, findings compared with osv-scanner (image scan, same OSV data).
 * The stock debootstrap tar holds /dev nodes that osv-scanner 2.0 refuses, so all three tools scan
 * one image without them.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { RegistryClient } from '../src/registry';
import { MemorySbomStore, OsvSource, rescanStored, scanImage, type ScanResult } from '../src/scan';
import { startRegistry } from '../workers/local/registry-server';
import { findTool } from '../workers/local/tools';
import { pushImage } from '../test/support/images';
import { CACHE_DIR, debianRootfsTar, ociLayoutFromTar } from '../test/integration/scan/rootfs-image';
import { alternate, type BenchContext, type BenchRow, median, timeMs } from './harness';

const run = promisify(execFile);
const FIXTURES = resolve(__dirname, '../test/fixtures/osv');

function withoutDeviceNodes(tar: string): string {
  const out = join(CACHE_DIR, 'debootstrap-bookworm-nodev.tar');
  if (!existsSync(out)) {
    execFileSync('cp', [tar, `${out}.partial`]);
    execFileSync('tar', ['--delete', '--wildcards', '-f', `${out}.partial`, './dev/?*']);
    renameSync(`${out}.partial`, out);
  }
  return out;
}

/** osv-scanner's offline database layout: <dir>/osv-scanner/<ecosystem>/all.zip, from the same fixture records. */
function osvScannerDb(dir: string): string {
  for (const [eco, sub] of [['Debian', 'debian'], ['npm', 'npm'], ['PyPI', 'pypi']]) {
    mkdirSync(join(dir, 'osv-scanner', eco!), { recursive: true });
    execFileSync('python3', ['-c', 'import sys,zipfile,glob,os\nz=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED)\nfor f in glob.glob(sys.argv[2]+"/*.json"): z.write(f, os.path.basename(f))\nz.close()', join(dir, 'osv-scanner', eco!, 'all.zip'), join(FIXTURES, sub!)]);
  }
  return dir;
}

const diff = (ours: string[], theirs: string[]) => {
  const a = new Set(ours);
  const b = new Set(theirs);
  return { onlyOurs: [...a].filter((x) => !b.has(x)), onlyTheirs: [...b].filter((x) => !a.has(x)) };
};
const describeDiff = (d: ReturnType<typeof diff>, peer: string) =>
  d.onlyOurs.length + d.onlyTheirs.length === 0 ? `identical to ${peer}` : `only ours: ${d.onlyOurs.slice(0, 5).join(', ') || '-'}; only ${peer}: ${d.onlyTheirs.slice(0, 5).join(', ') || '-'}`;

export default async function scanBench(ctx: BenchContext): Promise<BenchRow[]> {
  const rootfs = debianRootfsTar('bookworm');
  if ('skip' in rootfs) throw new Error(`no Debian rootfs: ${rootfs.skip}`);
  const syft = findTool('syft');
  const osvScanner = findTool('osv-scanner');
  const runs = ctx.quick ? 2 : 5;

  ctx.log('building the image (cached rootfs)');
  const tar = withoutDeviceNodes(rootfs.tar);
  const layout = join(ctx.workDir, 'layout');
  await ociLayoutFromTar(tar, layout, 'bench');
  const registry = await startRegistry({ name: 'bench', dataDir: join(ctx.workDir, 'registry') });
  try {
    const ref = `${registry.host}/debian:bench`;
    await pushImage(layout, 'bench', ref);
    const client = new RegistryClient({ url: registry.url });
    const osv = new OsvSource({ directory: FIXTURES });
    await osv.current();
    const sbomStore = new MemorySbomStore();
    let last: ScanResult | undefined;
    const ours = async () => {
      last = await scanImage({ source: client, registryName: 'bench', registryHost: registry.host, osv, sbomStore }, { repository: 'debian', reference: 'bench' });
    };
    const rows: BenchRow[] = [];
    let oursCold = Number.NaN;
    const size = execFileSync('stat', ['-c', '%s', `${tar}.gz`], { encoding: 'utf8' }).trim();

    let syftPackages: string[] = [];
    const env = { ...process.env, SYFT_REGISTRY_INSECURE_USE_HTTP: 'true', SYFT_CHECK_FOR_APP_UPDATE: 'false', SYFT_PARALLELISM: '2' };
    const syftRun = async () => {
      const { stdout } = await run(syft!, ['scan', `registry:${ref}`, '-o', 'json', '-q'], { env, maxBuffer: 512 * 1024 * 1024 });
      const doc = JSON.parse(stdout) as { artifacts: { name: string; version: string; type: string }[] };
      syftPackages = doc.artifacts.filter((a) => a.type === 'deb').map((a) => `${a.name}@${a.version}`);
    };
    ctx.log(`cold scans: ours${syft ? ' vs syft' : ''}, ${runs} runs each`);
    if (syft) {
      const t = await alternate(runs, ours, syftRun);
      oursCold = t.ours;
      const packages = diff(last!.packages.filter((p) => p.ecosystem === 'Debian').map((p) => `${p.name}@${p.version}`), syftPackages);
      rows.push({ metric: `cold scan, ${(Number(size) / 1e6).toFixed(0)} MB Debian image from a local registry (syft: catalog only)`, ours: t.ours, peer: t.peer, peerName: 'syft', unit: 'ms', runs, note: `target ≤ 2000 ms and ≤ 0.5×; load average ${loadavg()[0]!.toFixed(1)}; deb packages ${describeDiff(packages, 'syft')}` });
    } else {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) times.push(await timeMs(ours));
      oursCold = median(times);
      rows.push({ metric: 'cold scan, Debian image from a local registry', ours: oursCold, unit: 'ms', runs, note: 'syft not installed (go install github.com/anchore/syft/cmd/syft)' });
    }

    const digest = last!.summary.digest;
    const rematch: number[] = [];
    for (let i = 0; i < 20; i++) rematch.push(await timeMs(() => rescanStored({ osv, sbomStore }, digest)));
    if (osvScanner) {
      const db = osvScannerDb(join(ctx.workDir, 'osv-db'));
      const statusDir = join(ctx.workDir, 'dpkg');
      mkdirSync(statusDir, { recursive: true });
      execFileSync('tar', ['-xf', tar, '-C', statusDir, './var/lib/dpkg/status', './etc/os-release', './usr/lib/os-release']);
      const osvEnv = { ...process.env, OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY: db };
      const peerMatch: number[] = [];
      for (let i = 0; i < 5; i++) {
        peerMatch.push(await timeMs(() => run(osvScanner, ['scan', 'source', '--offline-vulnerabilities', '--format', 'json', '-L', `dpkg-status:${join(statusDir, 'var/lib/dpkg/status')}`], { env: osvEnv, maxBuffer: 64 * 1024 * 1024 }).catch((e: { code?: number }) => {
          if (e.code !== 1) throw e; // exit 1 = vulnerabilities found
        })));
      }
      rows.push({ metric: 're-match a stored SBOM (osv-scanner: dpkg status, offline DB)', ours: median(rematch), peer: median(peerMatch), peerName: 'osv-scanner', unit: 'ms', runs: 20, note: 'target ≤ 20 ms' });

      ctx.log('findings: osv-scanner image scan of the same image, same OSV records');
      const archive = join(ctx.workDir, 'image.tar');
      await run('skopeo', ['copy', '--quiet', `oci:${layout}:bench`, `docker-archive:${archive}:debian:bench`]);
      const started = process.hrtime.bigint();
      const { stdout } = await run(osvScanner, ['scan', 'image', '--offline-vulnerabilities', '--format', 'json', '--archive', archive], { env: osvEnv, maxBuffer: 256 * 1024 * 1024 }).catch((e: { code?: number; stdout: string }) => {
        if (e.code !== 1) throw e;
        return { stdout: e.stdout };
      });
      const osvImageMs = Number(process.hrtime.bigint() - started) / 1e6;
      const doc = JSON.parse(stdout) as { results?: { packages: { package: { os_package_name?: string; name: string }; vulnerabilities?: { id: string }[] }[] }[] };
      const theirs = (doc.results ?? []).flatMap((r) => r.packages.flatMap((p) => (p.vulnerabilities ?? []).map((v) => `${v.id} ${p.package.os_package_name ?? p.package.name}`)));
      const findings = diff(last!.findings.map((f) => `${f.id} ${f.package.name}`), theirs);
      rows.push({ metric: 'full image scan with matching (ours: from the registry; osv-scanner: docker-archive on disk)', ours: oursCold, peer: osvImageMs, peerName: 'osv-scanner', unit: 'ms', runs: 1, note: `findings ${describeDiff(findings, 'osv-scanner')} (${last!.findings.length} ours)` });
    } else {
      rows.push({ metric: 're-match a stored SBOM', ours: median(rematch), unit: 'ms', runs: 20, note: 'osv-scanner not installed' });
    }
    await client.close();
    return rows;
  } finally {
    await registry.process.stop();
  }
}
