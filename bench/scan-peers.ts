/**
 * The scanners the scan benchmark runs, ours and each peer's command line per transport, how its output is read into
 * packages (purl keys) and findings (`<OSV id> <package name>`), and the offline databases the peers that match
 * vulnerabilities read, all written from the same OSV records ours reads (test/fixtures/osv):
 *   - osv-scanner: its offline database layout (one all.zip of the records per ecosystem);
 *   - Trivy: a trivy.db written by tools/trivy-osv-db with trivy-db's own packages;
 *   - Grype: a v6 vulnerability.db written by tools/grype-osv-db with Grype's own database writer.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';

const ROOT = resolve(__dirname, '..');
export const FIXTURES = join(ROOT, 'test/fixtures/osv');
/**
 * The compiled CLI as a script runs it many times: through its startup snapshot (bin/dchain-compiled), which falls
 * back to `node dist/cli/dchain.js` when the build has none or another node is on PATH.
 */
const OURS = join(ROOT, 'bin/dchain-compiled');

export type Transport = 'docker-archive' | 'oci' | 'registry';

export interface Inputs {
  archive: string;
  layout: string;
  tag: string;
  registryRef: string;
}

export interface ToolResult {
  packages: Set<string>;
  /** `<OSV id> <package name>` pairs, when the tool matched against the same records. */
  findings?: Set<string>;
}

export interface Tool {
  name: string;
  /** The executable and the arguments before the tool's own. */
  bin: string;
  pre?: string[];
  /** The command line for a transport, or undefined when the tool cannot read it. */
  args(t: Transport, i: Inputs): string[] | undefined;
  env?: NodeJS.ProcessEnv;
  /** Exit codes that mean success (osv-scanner exits 1 when it found vulnerabilities). */
  ok?: number[];
  parse(stdout: string): ToolResult;
}

/** `type:name@version` from a purl, with the epoch folded into Debian versions and PyPI names normalised (PEP 503). */
function purlKey(purl: string): string | undefined {
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

const osvRecord = z.object({ id: z.string(), aliases: z.array(z.string()).nullish(), upstream: z.array(z.string()).nullish() });

/**
 * A peer names a finding by the id its database keys it by: Trivy's OSV importer keys language advisories by their
 * CVE alias (the GHSA id is among its vendor ids). Each finding is compared under the id of the OSV record it comes
 * from: the first of its ids that is a record's, else the one record an alias or upstream id points at.
 */
export class AdvisoryIds {
  private readonly records = new Set<string>();
  private readonly byAlias = new Map<string, Set<string>>();

  constructor(dir: string) {
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name.endsWith('.json')) {
          const rec = osvRecord.parse(JSON.parse(readFileSync(join(d, e.name), 'utf8')));
          this.records.add(rec.id);
          for (const alias of [...(rec.aliases ?? []), ...(rec.upstream ?? [])]) this.byAlias.set(alias, (this.byAlias.get(alias) ?? new Set()).add(rec.id));
        }
      }
    };
    walk(dir);
  }

  /** The OSV record id for a finding reported under `ids` (primary first). */
  resolve(ids: string[]): string {
    const direct = ids.find((id) => this.records.has(id));
    if (direct) return direct;
    for (const id of ids) {
      const owners = this.byAlias.get(id);
      if (owners?.size === 1) return [...owners][0]!;
    }
    return ids[0]!;
  }
}

/** The image as syft and Grype name it (they share stereoscope): an OCI layout holds one image here. */
const anchoreRef = (t: Transport, i: Inputs) =>
  t === 'docker-archive' ? `docker-archive:${i.archive}` : t === 'oci' ? `oci-dir:${i.layout}` : `registry:${i.registryRef}`;

/** Our CLI reading the records from `osvDir` (a fresh copy of FIXTURES: see scanBench). */
export function ours(osvDir: string): Tool {
  const doc = z.object({
    packages: z.array(z.object({ purl: z.string() })),
    findings: z.array(z.object({ id: z.string(), package: z.object({ name: z.string() }) })),
  });
  return {
    name: 'ours',
    bin: OURS,
    args: (t, i) => [
      'scan',
      t === 'docker-archive' ? `docker-archive:${i.archive}` : t === 'oci' ? `oci:${i.layout}:${i.tag}` : i.registryRef,
      '--format',
      'json',
      '--no-progress',
      '--osv-dir',
      osvDir,
    ],
    parse: (stdout) => {
      const out = doc.parse(JSON.parse(stdout));
      return { packages: keys(out.packages.map((p) => p.purl)), findings: new Set(out.findings.map((f) => `${f.id} ${f.package.name}`)) };
    },
  };
}

export function osvScanner(bin: string, dbDir: string): Tool {
  const pkg = z.object({
    package: z.object({ name: z.string(), version: z.string(), ecosystem: z.string(), os_package_name: z.string().optional() }),
    vulnerabilities: z.array(z.object({ id: z.string() })).nullish(),
  });
  const doc = z.object({ results: z.array(z.object({ packages: z.array(pkg) })).nullish() });
  const type: Record<string, string> = { Debian: 'deb', npm: 'npm', PyPI: 'pypi', Go: 'golang', Maven: 'maven', Alpine: 'apk' };
  return {
    name: 'osv-scanner',
    bin,
    // osv-scanner reads images from a docker-archive (or through a Docker daemon, which this machine has not).
    args: (t, i) =>
      t === 'docker-archive' ? ['scan', 'image', '--archive', '--offline-vulnerabilities', '--all-packages', '--format', 'json', i.archive] : undefined,
    env: { OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY: dbDir },
    ok: [0, 1],
    parse: (stdout) => {
      const pkgs = (doc.parse(JSON.parse(stdout)).results ?? []).flatMap((r) => r.packages);
      return {
        packages: keys(
          pkgs.map((p) => {
            const eco = type[p.package.ecosystem.split(':')[0]!];
            return eco ? `pkg:${eco}/${encodeURIComponent(p.package.os_package_name ?? p.package.name)}@${encodeURIComponent(p.package.version)}` : undefined;
          }),
        ),
        findings: new Set(pkgs.flatMap((p) => (p.vulnerabilities ?? []).map((v) => `${v.id} ${p.package.os_package_name ?? p.package.name}`))),
      };
    },
  };
}

export function syft(bin: string): Tool {
  const doc = z.object({ artifacts: z.array(z.object({ purl: z.string().optional() })) });
  return {
    name: 'syft',
    bin,
    args: (t, i) => ['scan', anchoreRef(t, i), '-o', 'json', '-q'],
    env: { SYFT_REGISTRY_INSECURE_USE_HTTP: 'true', SYFT_CHECK_FOR_APP_UPDATE: 'false' },
    parse: (stdout) => ({ packages: keys(doc.parse(JSON.parse(stdout)).artifacts.map((a) => a.purl)) }),
  };
}

/**
 * Trivy on its database written from the records (`--skip-db-update --offline-scan`: it neither downloads nor
 * phones home), every package listed. The layer cache is kept in memory, so each run analyses the image afresh as
 * every other tool does.
 */
export function trivy(bin: string, cacheDir: string, ids: AdvisoryIds): Tool {
  const doc = z.object({
    Results: z
      .array(
        z.object({
          Packages: z.array(z.object({ Identifier: z.object({ PURL: z.string().optional() }).optional() })).nullish(),
          Vulnerabilities: z.array(z.object({ VulnerabilityID: z.string(), VendorIDs: z.array(z.string()).nullish(), PkgName: z.string() })).nullish(),
        }),
      )
      .nullish(),
  });
  return {
    name: 'trivy',
    bin,
    args: (t, i) => [
      'image',
      '--quiet',
      '--cache-dir',
      cacheDir,
      '--cache-backend',
      'memory',
      '--skip-db-update',
      '--skip-java-db-update',
      '--skip-version-check',
      '--offline-scan',
      '--scanners',
      'vuln',
      '--list-all-pkgs',
      '--format',
      'json',
      ...(t === 'registry' ? ['--image-src', 'remote', '--insecure', i.registryRef] : ['--input', t === 'docker-archive' ? i.archive : i.layout]),
    ],
    env: { TRIVY_NO_PROGRESS: 'true', TRIVY_DISABLE_VEX_NOTICE: 'true' },
    parse: (stdout) => {
      const results = doc.parse(JSON.parse(stdout)).Results ?? [];
      return {
        packages: keys(results.flatMap((r) => (r.Packages ?? []).map((p) => p.Identifier?.PURL))),
        findings: new Set(
          results.flatMap((r) => (r.Vulnerabilities ?? []).map((v) => `${ids.resolve([v.VulnerabilityID, ...(v.VendorIDs ?? [])])} ${v.PkgName}`)),
        ),
      };
    },
  };
}

/**
 * Grype on its database written from the records (no update check, no age check: the records are as old as they
 * are). CycloneDX is the one output that lists every package next to the matches.
 */
export function grype(bin: string, dbRoot: string, ids: AdvisoryIds): Tool {
  const doc = z.object({
    components: z.array(z.object({ 'bom-ref': z.string().optional(), name: z.string(), purl: z.string().optional() })).nullish(),
    vulnerabilities: z.array(z.object({ id: z.string(), affects: z.array(z.object({ ref: z.string() })).nullish() })).nullish(),
  });
  return {
    name: 'grype',
    bin,
    args: (t, i) => [anchoreRef(t, i), '-o', 'cyclonedx-json', '-q'],
    env: {
      GRYPE_DB_AUTO_UPDATE: 'false',
      GRYPE_DB_VALIDATE_AGE: 'false',
      GRYPE_DB_CACHE_DIR: dbRoot,
      GRYPE_CHECK_FOR_APP_UPDATE: 'false',
      GRYPE_REGISTRY_INSECURE_USE_HTTP: 'true',
    },
    parse: (stdout) => {
      const out = doc.parse(JSON.parse(stdout));
      const components = out.components ?? [];
      const names = new Map(components.flatMap((c) => (c['bom-ref'] ? [[c['bom-ref'], c.name] as const] : [])));
      return {
        packages: keys(components.map((c) => c.purl)),
        findings: new Set((out.vulnerabilities ?? []).flatMap((v) => (v.affects ?? []).map((a) => `${ids.resolve([v.id])} ${names.get(a.ref) ?? a.ref}`))),
      };
    },
  };
}

/**
 * osv-scanner's offline database, from the same records: <dir>/osv-scalibr/<ecosystem>/all.zip for v2.6 (its
 * matcher lives in osv-scalibr now), <dir>/osv-scanner/<ecosystem>/all.zip for v2.0.
 */
export function osvScannerDb(dir: string): string {
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

/** Runs a database writer (tools/trivy-osv-db or tools/grype-osv-db) on the records into `dir`; returns `dir`. */
export function peerDb(writer: string, dir: string): string {
  execFileSync(writer, [FIXTURES, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  return dir;
}

/** What only ours and only the peer hold. */
export function setDiff(ours: Set<string>, theirs: Set<string>): { onlyOurs: string[]; onlyPeer: string[] } {
  return { onlyOurs: [...ours].filter((x) => !theirs.has(x)).sort(), onlyPeer: [...theirs].filter((x) => !ours.has(x)).sort() };
}

/** Only-ours and only-peer entries of two sets, one line. */
export function describeDiff(ours: Set<string>, theirs: Set<string>, peer: string): string {
  const { onlyOurs, onlyPeer: onlyTheirs } = setDiff(ours, theirs);
  if (onlyOurs.length + onlyTheirs.length === 0) return `identical (${ours.size})`;
  const list = (xs: string[]) => (xs.length ? `${xs.length}: ${xs.slice(0, 6).join(', ')}${xs.length > 6 ? ', …' : ''}` : '0');
  return `ours ${ours.size} / ${peer} ${theirs.size}; only ours ${list(onlyOurs)}; only ${peer} ${list(onlyTheirs)}`;
}
