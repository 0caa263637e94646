import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultPolicy, evaluatePolicy, factsFromScan } from '../../../src/policy';
import { parseConfig } from '../../../src/config/load';
import { countBySeverity, dataStatement, importDirectory, matchPackages, OsvDatabase, OsvSource, osvStatusFile, readOsvStatus } from '../../../src/scan/osv';
import { type Finding, type Package, type ScanSummary } from '../../../src/scan/types';

const FIXTURES = resolve(__dirname, '../../fixtures/osv');
const TRIAGE = resolve(__dirname, '../../fixtures/osv-triage');
const NOW = new Date();

const zip = (out: string, from: string) =>
  execFileSync('python3', [
    '-c',
    'import sys,zipfile,glob,os\nz=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED)\nfor f in sorted(glob.glob(sys.argv[2]+"/*.json")): z.write(f, os.path.basename(f))\nz.close()',
    out,
    from,
  ]);

const deb = (name: string, version: string, sourceName: string, sourceVersion: string): Package => ({
  name,
  version,
  ecosystem: 'Debian',
  release: 'Debian:12',
  purl: `pkg:deb/debian/${name}@${encodeURIComponent(version)}?arch=amd64&distro=debian-12`,
  layer: 'sha256:l',
  location: '/var/lib/dpkg/status',
  sourceName,
  sourceVersion,
});

void describe('OSV data layouts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'osv-layouts-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const ecosystems = { Debian: 'debian', npm: 'npm', PyPI: 'pypi', 'Rocky Linux': 'rocky', AlmaLinux: 'almalinux' };

  void it('loads the same records from loose JSON, the bucket layout <Ecosystem>/all.zip, flat <Ecosystem>.zip and zips reached through symbolic links', async () => {
    const loose = (await importDirectory(FIXTURES)).records.length;
    assert.ok(loose > 20, `${loose} fixture records`);
    const bucket = join(dir, 'bucket');
    const flat = join(dir, 'flat');
    const linked = join(dir, 'linked');
    mkdirSync(flat);
    mkdirSync(join(linked, 'nested'), { recursive: true });
    for (const [ecosystem, sub] of Object.entries(ecosystems)) {
      mkdirSync(join(bucket, ecosystem), { recursive: true });
      zip(join(bucket, ecosystem, 'all.zip'), join(FIXTURES, sub));
      zip(join(flat, `${ecosystem}.zip`), join(FIXTURES, sub));
    }
    // Links to zip files, and a link to a directory of exports two levels down.
    symlinkSync(join(flat, 'Debian.zip'), join(linked, 'Debian.zip'));
    symlinkSync(join(flat, 'npm.zip'), join(linked, 'nested', 'npm.zip'));
    symlinkSync(bucket, join(linked, 'nested', 'bucket-link'));
    const counts = await Promise.all([bucket, flat, linked].map(async (d) => (await new OsvSource({ directory: d }).current()).info.records));
    assert.deepEqual(counts, [loose, loose, loose]);
    const db = await new OsvSource({ directory: bucket }).current();
    assert.deepEqual(
      db.info.ecosystems.map((e) => e.ecosystem),
      ['AlmaLinux', 'Debian', 'PyPI', 'Rocky Linux', 'npm'],
    );
  });

  void it('reads many loose records in path order, each file once however often links reach it, and names a record that is no JSON', async () => {
    // More files than the reads kept in flight, over three directories, so that order cannot come from timing.
    const many = join(dir, 'many');
    const template = JSON.parse(readFileSync(join(FIXTURES, 'npm', 'GHSA-p6mc-m468-83gw.json'), 'utf8')) as { id: string };
    const ids: string[] = [];
    for (const sub of ['a', 'b/deeper', 'c']) {
      mkdirSync(join(many, sub), { recursive: true });
      for (let i = 0; i < 60; i++) {
        const id = `GHSA-test-${sub.replace('/', '-')}-${String(i).padStart(3, '0')}`;
        writeFileSync(join(many, sub, `${id}.json`), JSON.stringify({ ...template, id }));
        ids.push(id);
      }
    }
    writeFileSync(join(many, 'b', 'broken.json'), '{"id": ');
    // A link to a record beside it, and a link to a directory already read: each file is read once.
    symlinkSync(join(many, 'a', `${ids[0]}.json`), join(many, 'a', 'z-again.json'));
    symlinkSync(join(many, 'c'), join(many, 'd-link'));
    const result = await importDirectory(many);
    // The walk's order: a/, then b/broken.json (rejected) and b/deeper/, then c/ (d-link leads there again).
    assert.deepEqual(
      result.records.map((r) => r.id),
      ids,
    );
    assert.deepEqual(
      result.rejected.map((r) => r.source),
      [join(many, 'b', 'broken.json')],
    );
    assert.match(result.rejected[0]!.message, /not JSON/);
  });
});

void describe('distribution severities and alias groups', () => {
  let db: OsvDatabase;
  const packages = [
    deb('libc6', '2.36-9+deb12u4', 'glibc', '2.36-9+deb12u4'),
    // A binNMU with a binary-only epoch: the advisories name the source util-linux 2.38.1-5.
    deb('bsdutils', '1:2.38.1-5+b1', 'util-linux', '2.38.1-5'),
    {
      name: 'golang.org/x/net',
      version: 'v0.6.0',
      ecosystem: 'Go',
      purl: 'pkg:golang/golang.org/x/net@v0.6.0',
      layer: 'sha256:l',
      location: '/app',
    } satisfies Package,
  ];
  let findings: Finding[];
  const byId = (id: string) => findings.find((f) => f.ids.includes(id));

  void it('matches the real-shaped records', async () => {
    db = new OsvDatabase((await importDirectory(TRIAGE)).records);
    findings = matchPackages(db, packages);
    assert.deepEqual(
      findings.map((f) => `${f.id} ${f.package.name}`),
      ['DEBIAN-CVE-2024-28085 bsdutils', 'GHSA-vvpx-j8f3-3w6h golang.org/x/net', 'DEBIAN-CVE-2022-0563 bsdutils', 'DEBIAN-CVE-2019-1010022 libc6'],
    );
  });

  void it('rates Debian unimportant as negligible with its 9.8 CVSS kept beside it, and leaves it out of counts', () => {
    const f = byId('DEBIAN-CVE-2019-1010022')!;
    assert.equal(f.severity, 'LOW');
    assert.equal(f.negligible, true);
    assert.deepEqual(f.vendorSeverity, { source: 'Debian', rating: 'unimportant', severity: 'LOW' });
    assert.equal(f.cvssScore, 9.8);
    assert.equal(f.cvssSeverity, 'CRITICAL');
    const counts = countBySeverity(findings);
    assert.deepEqual(counts, { CRITICAL: 0, HIGH: 2, MEDIUM: 0, LOW: 1, UNKNOWN: 0 });
  });

  void it('rates Debian low without a vector LOW, not UNKNOWN', () => {
    const f = byId('DEBIAN-CVE-2022-0563')!;
    assert.equal(f.severity, 'LOW');
    assert.equal(f.negligible, undefined);
    assert.equal(f.cvssScore, undefined);
  });

  void it('uses the Debian urgency over the CVSS band, and names a source-keyed fix as a source version', () => {
    const f = byId('DEBIAN-CVE-2024-28085')!;
    assert.equal(f.severity, 'HIGH', 'urgency high');
    assert.equal(f.cvssSeverity, 'MEDIUM', 'CVSS 5.5 kept apart');
    assert.equal(f.fixable, true);
    assert.equal(f.fixedVersion, '2.38.1-5+deb12u1');
    assert.deepEqual(f.fixedIn, { name: 'util-linux', version: '2.38.1-5+deb12u1', kind: 'source' });
    assert.equal(f.package.version, '1:2.38.1-5+b1');
    assert.deepEqual([f.package.sourceName, f.package.sourceVersion], ['util-linux', '2.38.1-5']);
  });

  void it('groups a GO record and the GHSA record it aliases into one finding at the higher severity, listing both ids', () => {
    const go = findings.filter((f) => f.package.ecosystem === 'Go');
    assert.equal(go.length, 1);
    assert.equal(go[0]!.severity, 'HIGH');
    assert.deepEqual(go[0]!.ids, ['GHSA-vvpx-j8f3-3w6h', 'GO-2023-1571']);
    assert.deepEqual(go[0]!.aliases, ['CVE-2022-41723']);
    assert.equal(go[0]!.fixedVersion, '0.7.0');
  });

  void it('the built-in policy denies the HIGH fixable finding only, with its source fix, and not the unimportant one', () => {
    const summary = {
      registry: 'r.example',
      repository: 'app',
      digest: `sha256:${'a'.repeat(64)}`,
      scannedAt: NOW.toISOString(),
      packageCount: packages.length,
      counts: countBySeverity(findings),
      fixable: countBySeverity(findings, (f) => f.fixable),
      findings,
      hygiene: {
        setuidFiles: [],
        shells: [],
        networkTools: [],
        user: '1000',
        runsAsRoot: false,
        privateKeys: [],
        totalSizeBytes: 1,
        compressedSizeBytes: 1,
        layerCount: 1,
        wastedBytes: 0,
        efficiency: 1,
        issues: [],
      },
      osv: dataStatement(db, packages, NOW, 6 * 3600_000),
      sbom: { store: 'memory', key: 'k', digest: 'd', format: 'cyclonedx-1.6' },
    } satisfies ScanSummary;
    const decision = evaluatePolicy(factsFromScan(summary), defaultPolicy(), NOW);
    assert.equal(decision.allowed, false);
    const enforced = decision.violations.filter((v) => v.enforced);
    assert.deepEqual(
      enforced.map((v) => v.evidence.id),
      ['DEBIAN-CVE-2024-28085', 'GHSA-vvpx-j8f3-3w6h'],
    );
    assert.match(
      enforced[0]!.message,
      /HIGH \(Debian: high\) DEBIAN-CVE-2024-28085 in bsdutils 1:2\.38\.1-5\+b1 \(fixed in source package util-linux 2\.38\.1-5\+deb12u1\)/,
    );
    assert.ok(!JSON.stringify(decision).includes('CVE-2019-1010022'), 'the unimportant finding is outside the ceilings');
  });
});

void describe('the data statement', () => {
  const dir = mkdtempSync(join(tmpdir(), 'osv-statement-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const npmPkg: Package = { name: 'lodash', version: '4.17.11', ecosystem: 'npm', purl: 'pkg:npm/lodash@4.17.11', layer: 'sha256:l', location: '/app' };
  const debPkg = deb('libc6', '2.36-9', 'glibc', '2.36-9');

  void it('names an empty data set, an ecosystem without records, and stale data with its age', async () => {
    const empty = dataStatement(new OsvDatabase([]), [npmPkg], NOW, 3600_000);
    assert.deepEqual(
      empty.problems.map((p) => [p.kind, p.ecosystem]),
      [
        ['empty', '*'],
        ['missing', 'npm'],
      ],
    );

    mkdirSync(join(dir, 'npm'));
    execFileSync('cp', ['-r', join(FIXTURES, 'npm'), join(FIXTURES, 'debian'), dir]);
    const weekAgo = new Date(NOW.getTime() - 7 * 86_400_000);
    execFileSync('find', [join(dir, 'debian'), '-name', '*.json', '-exec', 'touch', '-d', weekAgo.toISOString(), '{}', ';']);
    const db = await new OsvSource({ directory: dir }).current();
    const onlyNpm = dataStatement(db, [npmPkg], NOW, 3600_000);
    assert.deepEqual(onlyNpm.problems, [], "npm data is fresh; the stale Debian data is not this image's concern");
    const both = dataStatement(db, [npmPkg, debPkg, { ...npmPkg, name: 'x', ecosystem: 'PyPI' }], NOW, 3600_000);
    assert.deepEqual(
      both.problems.map((p) => [p.kind, p.ecosystem]),
      [
        ['stale', 'Debian'],
        ['missing', 'PyPI'],
      ],
    );
    assert.match(both.problems[0]!.message, /vulnerability data for Debian is 7d old .* older than the maximum 1h/);
    // Counted per ecosystem however the packages are interleaved (dataStatement counts them in runs).
    const pypi = { ...npmPkg, name: 'x', ecosystem: 'PyPI' as const };
    const mixed = dataStatement(db, [pypi, debPkg, pypi, debPkg, debPkg, npmPkg, pypi], NOW, 3600_000);
    assert.deepEqual(
      mixed.problems.map((p) => [p.kind, p.ecosystem, p.packages]),
      [
        ['stale', 'Debian', 3],
        ['missing', 'PyPI', 3],
      ],
    );
    assert.match(mixed.problems[1]!.message, /: 3 packages not checked$/);
    assert.ok(both.ageSeconds >= 7 * 86_400 - 5);
    assert.deepEqual(
      both.ecosystems.map((e) => e.ecosystem),
      ['Debian', 'npm'],
    );
    utimesSync(join(dir, 'debian'), NOW, NOW);
  });
});

void describe('OSV data status for health checks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'osv-status-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('reports what the scan workers last loaded: version, age, ecosystems, and stale or empty data', async () => {
    const config = parseConfig({ dataDir: dir, scan: { osv: { maxAge: '1h' } } });
    assert.equal((await readOsvStatus(config)).state, 'unknown');
    const data = join(dir, 'osv');
    mkdirSync(data);
    execFileSync('cp', ['-r', join(FIXTURES, 'npm'), join(FIXTURES, 'debian'), data]);
    const old = new Date(Date.now() - 2 * 3600_000);
    execFileSync('find', [join(data, 'debian'), '-name', '*.json', '-exec', 'touch', '-d', old.toISOString(), '{}', ';']);
    await new OsvSource({ directory: data, statusFile: osvStatusFile(config) }).current();
    const status = await readOsvStatus(config);
    assert.equal(status.state, 'stale');
    assert.deepEqual(
      status.ecosystems.map((e) => [e.ecosystem, e.stale]),
      [
        ['Debian', true],
        ['npm', false],
      ],
    );
    assert.match(status.message, /OSV data stale for Debian/);
    assert.ok(status.ageSeconds! >= 7200 - 60);
    mkdirSync(join(dir, 'empty'));
    await new OsvSource({ directory: join(dir, 'empty'), statusFile: osvStatusFile(config) }).current();
    assert.equal((await readOsvStatus(config)).state, 'empty');
  });
});
