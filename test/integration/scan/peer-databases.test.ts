/**
 * The databases the scan benchmark gives Grype and Trivy (tools/grype-osv-db, tools/trivy-osv-db) carry the OSV
 * records' meaning: each peer, scanning offline against the database written from a few records, reports the record
 * that affects an installed version and not the one whose range the installed version is outside of, in each
 * ecosystem the benchmark images hold: a Debian binary package through its source package (dpkg order), an npm
 * package, a PyPI distribution under a name spelt otherwise (PEP 503).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { findTool } from '../../../workers/local/tools';
import { type ImageFile, writeOciImage } from '../../support/images';
import { testDataDir } from '../../support/services';

const run = promisify(execFile);

type Range = { introduced: string; fixed: string };
const record = (id: string, ecosystem: string, name: string, range: Range, aliases: string[] = []) => ({
  schema_version: '1.6.0',
  id,
  aliases,
  modified: '2026-01-01T00:00:00Z',
  summary: `${name} test advisory`,
  details: '',
  affected: [
    {
      package: { ecosystem, name },
      ranges: [{ type: ecosystem === 'npm' ? 'SEMVER' : 'ECOSYSTEM', events: [{ introduced: range.introduced }, { fixed: range.fixed }] }],
    },
  ],
});

/** Per ecosystem: the record that affects the installed package, and the one that does not. */
const CASES = [
  {
    ecosystem: 'Debian',
    affecting: record('DEBIAN-TEST-0001', 'Debian:12', 'demo', { introduced: '0', fixed: '1.2-3' }),
    // 1.10-1 > 1.9-1 in dpkg order, not as strings.
    sparing: record('DEBIAN-TEST-0002', 'Debian:12', 'newer', { introduced: '0', fixed: '1.9-1' }),
    affectedPackage: 'libdemo1',
  },
  {
    ecosystem: 'npm',
    affecting: record('GHSA-test-0001-npm1', 'npm', 'left-pad', { introduced: '0', fixed: '1.3.0' }, ['CVE-2099-0001']),
    sparing: record('GHSA-test-0002-npm2', 'npm', 'is-odd', { introduced: '2.0.0', fixed: '3.0.1' }),
    affectedPackage: 'left-pad',
  },
  {
    ecosystem: 'PyPI',
    affecting: record('PYSEC-TEST-0001', 'PyPI', 'Demo_Pkg', { introduced: '1.0', fixed: '1.5' }),
    sparing: record('PYSEC-TEST-0002', 'PyPI', 'settled', { introduced: '0', fixed: '2.0' }),
    affectedPackage: 'demo-pkg',
  },
];

const dpkgEntry = (name: string, version: string, source?: string) =>
  [
    `Package: ${name}`,
    'Status: install ok installed',
    'Priority: optional',
    'Section: libs',
    'Installed-Size: 10',
    'Maintainer: Test <test@example.org>',
    'Architecture: amd64',
    ...(source ? [`Source: ${source}`] : []),
    `Version: ${version}`,
    `Description: ${name} for the peer database tests`,
    '',
  ].join('\n');

const distInfo = (name: string, version: string): ImageFile[] => {
  const dir = `usr/local/lib/python3.11/site-packages/${name.replace(/-/g, '_')}-${version}.dist-info`;
  return [
    { path: dir, type: 'directory' },
    { path: `${dir}/METADATA`, content: `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n` },
    { path: `${dir}/RECORD`, content: '' },
  ];
};

const npmPackage = (name: string, version: string): ImageFile[] => [
  { path: `srv/app/node_modules/${name}`, type: 'directory' },
  { path: `srv/app/node_modules/${name}/package.json`, content: JSON.stringify({ name, version }) },
];

const dirs = (...paths: string[]): ImageFile[] => paths.map((path) => ({ path, type: 'directory' }));

/** Debian 12 with libdemo1 (source demo) 1.2-2 and newer 1.10-1, left-pad 1.1.0 and is-odd 1.0.0, demo-pkg 1.2 and settled 2.0. */
const imageLayer = (): ImageFile[] => [
  ...dirs('etc', 'var', 'var/lib', 'var/lib/dpkg', 'usr', 'usr/lib', 'usr/local', 'usr/local/lib', 'usr/local/lib/python3.11'),
  ...dirs('usr/local/lib/python3.11/site-packages', 'srv', 'srv/app', 'srv/app/node_modules'),
  {
    path: 'etc/os-release',
    content: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n',
  },
  { path: 'etc/debian_version', content: '12.8\n' },
  { path: 'var/lib/dpkg/status', content: [dpkgEntry('libdemo1', '1.2-2', 'demo'), dpkgEntry('newer', '1.10-1')].join('\n') },
  ...npmPackage('left-pad', '1.1.0'),
  ...npmPackage('is-odd', '1.0.0'),
  ...distInfo('demo-pkg', '1.2'),
  ...distInfo('settled', '2.0'),
];

/** `<advisory id> <package>` for every id a peer gave a finding (its primary id and the aliases it lists). */
type Findings = Set<string>;

const peers = {
  trivy: { scanner: findTool('trivy'), writer: findTool('trivy-osv-db') },
  grype: { scanner: findTool('grype'), writer: findTool('grype-osv-db') },
};

async function grypeFindings(bin: string, dbRoot: string, layout: string): Promise<Findings> {
  const { stdout } = await run(bin, [`oci-dir:${layout}`, '-o', 'json', '-q'], {
    env: { ...process.env, GRYPE_DB_AUTO_UPDATE: 'false', GRYPE_DB_VALIDATE_AGE: 'false', GRYPE_DB_CACHE_DIR: dbRoot, GRYPE_CHECK_FOR_APP_UPDATE: 'false' },
    maxBuffer: 64 * 1024 * 1024,
  });
  const doc = JSON.parse(stdout) as { matches: { vulnerability: { id: string }; artifact: { name: string } }[] };
  return new Set(doc.matches.map((m) => `${m.vulnerability.id} ${m.artifact.name}`));
}

async function trivyFindings(bin: string, cacheDir: string, layout: string): Promise<Findings> {
  const args = ['image', '--quiet', '--cache-dir', cacheDir, '--cache-backend', 'memory', '--skip-db-update', '--skip-java-db-update', '--skip-version-check'];
  const { stdout } = await run(bin, [...args, '--offline-scan', '--scanners', 'vuln', '--format', 'json', '--input', layout], {
    env: { ...process.env, TRIVY_NO_PROGRESS: 'true', TRIVY_DISABLE_VEX_NOTICE: 'true' },
    maxBuffer: 64 * 1024 * 1024,
  });
  const doc = JSON.parse(stdout) as { Results?: { Vulnerabilities?: { VulnerabilityID: string; VendorIDs?: string[]; PkgName: string }[] | null }[] };
  // Trivy's OSV importer keys an advisory by its CVE alias when it has one; the record's id is then a vendor id.
  return new Set(
    (doc.Results ?? []).flatMap((r) => (r.Vulnerabilities ?? []).flatMap((v) => [v.VulnerabilityID, ...(v.VendorIDs ?? [])].map((id) => `${id} ${v.PkgName}`))),
  );
}

for (const [peer, { scanner, writer }] of Object.entries(peers)) {
  const skip = !scanner ? `${peer} is not installed (npm run setup -- --bench)` : !writer ? `${peer}-osv-db is not built (npm run setup -- --bench)` : false;

  void describe(`${peer} on a database written from OSV records`, { skip }, () => {
    let findings: Findings;

    before(async () => {
      const work = testDataDir();
      const osvDir = join(work, 'osv');
      for (const c of CASES) {
        mkdirSync(join(osvDir, c.ecosystem), { recursive: true });
        for (const r of [c.affecting, c.sparing]) writeFileSync(join(osvDir, c.ecosystem, `${r.id}.json`), JSON.stringify(r));
      }
      const layout = join(work, 'layout');
      await writeOciImage(layout, { layers: [imageLayer()] }, 'test');
      const dbDir = join(work, `${peer}-db`);
      await run(writer!, [osvDir, dbDir]);
      findings = peer === 'grype' ? await grypeFindings(scanner!, dbDir, layout) : await trivyFindings(scanner!, dbDir, layout);
    });

    for (const c of CASES) {
      void it(`${c.ecosystem}: reports ${c.affecting.id} on ${c.affectedPackage}, and not ${c.sparing.id}`, () => {
        assert.ok(findings.has(`${c.affecting.id} ${c.affectedPackage}`), `${c.affecting.id} ${c.affectedPackage} in ${[...findings].sort().join(', ')}`);
        assert.ok(![...findings].some((f) => f.startsWith(`${c.sparing.id} `)), `${c.sparing.id} reported: ${[...findings].sort().join(', ')}`);
      });
    }
  });
}
