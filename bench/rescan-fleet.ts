/**
 * The rescan bench's synthetic fleet and OSV data: deterministic (seeded), in the real shapes. Images
 * are a Debian base (the packages every Debian image has, plus a Zipf-popular tail) with an npm or a
 * PyPI application of Zipf-popular packages, 200–800 packages each. OSV records are generated in the
 * export shapes (DEBIAN-CVE-* with Debian:11/12 ECOSYSTEM ranges and upstream CVEs, GHSA-* with SEMVER
 * ranges, CVSS vectors and GitHub severities, PYSEC-* with ECOSYSTEM ranges, MAL-* malicious packages)
 * over the same universes, most advisories on popular packages, and written as `<Ecosystem>/all.zip`.
 */
import { crc32 } from 'node:zlib';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Package } from '../src/scan';

/** mulberry32: a small seeded PRNG, so every run generates the same fleet and data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Index in [0, n) drawn with Zipf weight 1/(i+1)^s (inverse CDF over a precomputed table). */
function zipf(n: number, s: number): (r: () => number) => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += 1 / Math.pow(i + 1, s);
    cdf[i] = sum;
  }
  return (r) => {
    const x = r() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export interface Sizes {
  images: number;
  debianSources: number;
  npmPackages: number;
  pypiPackages: number;
  debianRecords: number;
  npmRecords: number;
  npmMalicious: number;
  pypiRecords: number;
  pypiMalicious: number;
}

/** Versions each package is published at (an image uses one; advisories fix at one of them). */
const VERSIONS = 8;
const debianVersion = (i: number, v: number) => `${1 + (i % 5)}.${v}.${i % 7}-${1 + (v % 3)}`;
const semverOf = (i: number, v: number) => `${1 + (i % 4)}.${v}.${i % 10}`;

interface Universe {
  debian: Array<{ source: string; binaries: string[] }>;
  npm: string[];
  pypi: string[];
}

function universe(sizes: Sizes): Universe {
  const debian = Array.from({ length: sizes.debianSources }, (_, i) => {
    const source = `deb${i}-${['lib', 'tools', 'utils', 'core', 'data'][i % 5]}`;
    const binaries = Array.from({ length: 1 + (i % 3) }, (_b, j) => (j === 0 ? source : `${source}-bin${j}`));
    return { source, binaries };
  });
  const npm = Array.from({ length: sizes.npmPackages }, (_, i) => (i % 9 === 0 ? `@scope${i % 97}/pkg-${i}` : `npm-pkg-${i}`));
  const pypi = Array.from({ length: sizes.pypiPackages }, (_, i) => `Py_Pkg.${i}`);
  return { debian, npm, pypi };
}

/** Debian source packages every Debian image holds (base-files, libc6, coreutils… in a real one). */
const DEBIAN_BASE = 45;

export function generateFleet(
  sizes: Sizes,
  seed = 1,
): Array<{ repository: string; digest: string; os: { id: string; versionId: string }; packages: Package[] }> {
  const u = universe(sizes);
  const r = rng(seed);
  const debPick = zipf(u.debian.length - DEBIAN_BASE, 1.05);
  const npmPick = zipf(u.npm.length, 1.0);
  const pyPick = zipf(u.pypi.length, 1.0);
  const images = [];
  for (let n = 0; n < sizes.images; n++) {
    const release = r() < 0.7 ? '12' : '11';
    const distro = `debian-${release}`;
    const layer = `sha256:${(n * 7919).toString(16).padStart(64, '0')}`;
    const target = 200 + Math.floor(r() * 601);
    const packages = new Map<string, Package>();
    const addDebian = (i: number) => {
      const { source, binaries } = u.debian[i]!;
      const v = Math.floor(r() * VERSIONS);
      const sourceVersion = debianVersion(i, v);
      for (const name of binaries) {
        packages.set(`deb ${name}`, {
          name,
          version: sourceVersion,
          ecosystem: 'Debian',
          purl: `pkg:deb/debian/${name}@${sourceVersion}?arch=amd64&distro=${distro}`,
          layer,
          location: 'var/lib/dpkg/status',
          sourceName: source,
          sourceVersion,
          release: `Debian:${release}`,
        });
      }
    };
    for (let i = 0; i < DEBIAN_BASE; i++) addDebian(i);
    const app = r();
    const osShare = app < 0.15 ? 1 : 0.25 + r() * 0.25;
    while (packages.size < target * osShare) addDebian(DEBIAN_BASE + debPick(r));
    const lang: 'npm' | 'PyPI' = app < 0.6 ? 'npm' : 'PyPI';
    let guard = 0;
    while (packages.size < target && guard++ < target * 20) {
      const i = lang === 'npm' ? npmPick(r) : pyPick(r);
      const name = lang === 'npm' ? u.npm[i]! : u.pypi[i]!;
      const version = semverOf(i, Math.floor(r() * VERSIONS));
      const purl = lang === 'npm' ? `pkg:npm/${name.replace('@', '%40')}@${version}` : `pkg:pypi/${name.toLowerCase()}@${version}`;
      packages.set(`${lang} ${name}`, {
        name,
        version,
        ecosystem: lang,
        purl,
        layer,
        location: lang === 'npm' ? `app/node_modules/${name}/package.json` : `usr/lib/python3/site-packages/${name}.dist-info/METADATA`,
      });
    }
    const digest = `sha256:${hex64(seed * 1_000_003 + n)}`;
    images.push({ repository: `fleet/app-${n % 500}`, digest, os: { id: 'debian', versionId: release }, packages: [...packages.values()] });
  }
  return images;
}

function shuffled(n: number, r: () => number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function hex64(n: number): string {
  const r = rng(n);
  let out = '';
  while (out.length < 64)
    out += Math.floor(r() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  return out.slice(0, 64);
}

const CVSS = [
  'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
  'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N',
  'CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N',
  'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:L',
];
const GH_SEVERITY = ['CRITICAL', 'HIGH', 'MODERATE', 'LOW'];
const URGENCY = ['not yet assigned', 'unimportant', 'low', 'medium', 'high'];

export type OsvRecordJson = Record<string, unknown> & { id: string; modified: string };

/** The OSV records, per export ecosystem, in the exports' shapes. */
export function generateOsv(sizes: Sizes, seed = 2): Map<string, OsvRecordJson[]> {
  const u = universe(sizes);
  const r = rng(seed);
  // Advisories concentrate on a few packages (the kernel, browsers, image libraries in Debian), mostly
  // not the ones images share most: a share follow image popularity (0.5 % in Debian: a debian:12
  // base's ~50 source packages hold well under 1 % of its records; 2 % in npm and PyPI, where the most
  // installed package has about ten advisories), the rest a shuffled order.
  const mixed = (n: number, s: number, popularShare: number) => {
    const popular = zipf(n, 1.0);
    const other = zipf(n, s);
    const order = shuffled(n, r);
    return (rand: () => number) => (rand() < popularShare ? popular(rand) : order[other(rand)]!);
  };
  const debPick = mixed(u.debian.length, 1.0, 0.005);
  const npmPick = mixed(u.npm.length, 0.9, 0.02);
  const pyPick = mixed(u.pypi.length, 0.9, 0.02);
  const modified = (i: number) => new Date(Date.UTC(2024, 0, 1) + (i % 600) * 86_400_000).toISOString();
  const debian: OsvRecordJson[] = [];
  for (let n = 0; n < sizes.debianRecords; n++) {
    const i = debPick(r);
    const { source } = u.debian[i]!;
    const cve = `CVE-${2010 + (n % 15)}-${10000 + n}`;
    const fixedAt = Math.floor(r() * (VERSIONS + 2));
    const events = (rel: string) => [
      { introduced: '0' },
      ...(fixedAt < VERSIONS ? [{ fixed: `${debianVersion(i, fixedAt)}${rel === '11' ? '+deb11u1' : ''}` }] : []),
    ];
    debian.push({
      schema_version: '1.6.0',
      id: `DEBIAN-${cve}`,
      modified: modified(n),
      published: modified(n),
      upstream: [cve],
      details: `A flaw was found in ${source} that allows a remote attacker to cause a denial of service or possibly execute arbitrary code via crafted input (${cve}).`,
      affected: ['12', '11'].map((rel) => ({
        package: { ecosystem: `Debian:${rel}`, name: source },
        ranges: [{ type: 'ECOSYSTEM', events: events(rel) }],
        ecosystem_specific: { urgency: URGENCY[n % URGENCY.length] },
      })),
    });
  }
  const github = (ecosystem: 'npm' | 'PyPI', names: string[], pick: (r: () => number) => number, count: number, prefix: string): OsvRecordJson[] =>
    Array.from({ length: count }, (_, n) => {
      const i = pick(r);
      const name = names[i]!;
      const fixedAt = 1 + Math.floor(r() * (VERSIONS + 1));
      const sev = n % 4;
      const id =
        prefix === 'GHSA' ? `GHSA-${hex64(n + 7).slice(0, 4)}-${hex64(n + 11).slice(0, 4)}-${hex64(n + 13).slice(0, 4)}` : `PYSEC-${2015 + (n % 10)}-${n}`;
      return {
        schema_version: '1.6.0',
        id,
        modified: modified(n),
        published: modified(n),
        aliases: [`CVE-${2015 + (n % 10)}-${20000 + n}`],
        summary: `${['Prototype pollution', 'Regular expression denial of service', 'Path traversal', 'Improper input validation'][n % 4]} in ${name}`,
        details: `Versions of ${name} before the fixed release are vulnerable; upgrade to a fixed version.`,
        severity: [{ type: 'CVSS_V3', score: CVSS[sev] }],
        affected: [
          {
            package: { ecosystem, name, purl: ecosystem === 'npm' ? `pkg:npm/${name.replace('@', '%40')}` : `pkg:pypi/${name.toLowerCase()}` },
            ranges: [
              {
                type: ecosystem === 'npm' ? 'SEMVER' : 'ECOSYSTEM',
                events: [{ introduced: '0' }, ...(fixedAt < VERSIONS ? [{ fixed: semverOf(i, fixedAt) }] : [])],
              },
            ],
            database_specific: { source: `https://github.com/github/advisory-database/blob/main/advisories/${id}.json` },
          },
        ],
        references: [{ type: 'ADVISORY', url: `https://nvd.nist.gov/vuln/detail/CVE-${2015 + (n % 10)}-${20000 + n}` }],
        database_specific: { severity: GH_SEVERITY[sev], cwe_ids: [`CWE-${20 + sev}`], github_reviewed: true },
      };
    });
  // Malicious-package reports name packages no real fleet installs (typosquats), each with its versions.
  const malicious = (ecosystem: 'npm' | 'PyPI', count: number): OsvRecordJson[] =>
    Array.from({ length: count }, (_, n) => ({
      schema_version: '1.6.0',
      id: `MAL-2024-${ecosystem === 'npm' ? n : 500_000 + n}`,
      modified: modified(n),
      published: modified(n),
      summary: `Malicious code in ${ecosystem === 'npm' ? `typo-npm-${n}` : `typo_py_${n}`} (${ecosystem})`,
      details: 'The package was found to contain malicious code.',
      affected: [{ package: { ecosystem, name: ecosystem === 'npm' ? `typo-npm-${n}` : `typo_py_${n}` }, versions: ['1.0.0', '1.0.1'] }],
      database_specific: { 'malicious-packages-origins': [{ source: 'ghsa-malware', sha256: hex64(n) }] },
    }));
  return new Map([
    ['Debian', debian],
    ['npm', [...github('npm', u.npm, npmPick, sizes.npmRecords - sizes.npmMalicious, 'GHSA'), ...malicious('npm', sizes.npmMalicious)]],
    ['PyPI', [...github('PyPI', u.pypi, pyPick, sizes.pypiRecords - sizes.pypiMalicious, 'PYSEC'), ...malicious('PyPI', sizes.pypiMalicious)]],
  ]);
}

/**
 * `count` advisories changed as a day's OSV update changes them, each with a new `modified` time: a
 * third get a fix (a fixed version where there was none, or an earlier one), a third are re-scored or
 * re-worded (no finding changes), a third widen to every version (no fix any more). Returns the ids.
 */
export function changeAdvisories(osv: Map<string, OsvRecordJson[]>, count: number, seed = 3): string[] {
  const r = rng(seed);
  const all = [...osv.values()].flat();
  const changed: string[] = [];
  const when = new Date().toISOString();
  while (changed.length < count) {
    const record = all[Math.floor(r() * all.length)]!;
    if (changed.includes(record.id) || record.id.startsWith('MAL-')) continue;
    record.modified = when;
    const affected = record.affected as Array<{ ranges?: Array<{ events: Array<Record<string, string>> }> }>;
    const kind = changed.length % 3;
    if (kind === 1) record.details = `${String(record.details)} (updated)`;
    for (const a of affected)
      for (const range of a.ranges ?? []) {
        const fixed = range.events.find((e) => e.fixed !== undefined)?.fixed;
        if (kind === 2) range.events = [{ introduced: '0' }];
        else if (kind === 0)
          range.events = [{ introduced: '0' }, { fixed: fixed ? fixed.replace(/^(\d+)\.(\d+)/, (_m, a, b) => `${a}.${Math.max(0, Number(b) - 1)}`) : '9.9.9' }];
      }
    changed.push(record.id);
  }
  return changed;
}

/** Writes `<dir>/<Ecosystem>/all.zip` for each ecosystem, as the OSV bucket lays them out. */
export function writeOsvExports(dir: string, osv: Map<string, OsvRecordJson[]>): void {
  for (const [ecosystem, records] of osv) {
    mkdirSync(join(dir, ecosystem), { recursive: true });
    writeFileSync(join(dir, ecosystem, 'all.zip'), storedZip(records.map((rec) => ({ name: `${rec.id}.json`, data: Buffer.from(JSON.stringify(rec)) }))));
  }
}

/** A zip of uncompressed (stored) entries: at most 65,535 of them, each under 4 GiB (no zip64). */
function storedZip(entries: Array<{ name: string; data: Buffer }>): Buffer {
  if (entries.length > 0xffff) throw new Error(`${entries.length} entries need zip64`);
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const file = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(file.length, 26);
    parts.push(local, file, data);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(20, 4);
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(0x21, 14);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(data.length, 20);
    entry.writeUInt32LE(data.length, 24);
    entry.writeUInt16LE(file.length, 28);
    entry.writeUInt32LE(offset, 42);
    central.push(entry, file);
    offset += 30 + file.length + data.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, directory, end]);
}
