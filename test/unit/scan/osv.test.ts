import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { ChainError } from '../../../src/errors/chain-error';
import { cvssBaseScore, importDirectory, importZip, matchPackages, OsvDatabase, type OsvRecord, OsvSource, rangeAffects } from '../../../src/scan/osv';
import { type Package } from '../../../src/scan/types';

const FIXTURES = resolve(__dirname, '../../fixtures/osv');

const pkg = (p: Partial<Package> & Pick<Package, 'name' | 'version' | 'ecosystem'>): Package => ({
  purl: `pkg:x/${p.name}@${p.version}`,
  layer: 'sha256:l',
  location: '/',
  ...p,
});

void describe('OSV range evaluation', () => {
  const r = (events: Record<string, string>[], type: 'ECOSYSTEM' | 'SEMVER' = 'ECOSYSTEM') => ({ type, events }) as Parameters<typeof rangeAffects>[0];
  void it('introduced/fixed opens and closes intervals, in any event order', () => {
    const range = r([{ fixed: '1.2.6' }, { introduced: '1.0.0' }, { introduced: '0' }, { fixed: '0.2.4' }], 'SEMVER');
    for (const [v, expected] of [
      ['0.0.1', true],
      ['0.2.4', false],
      ['0.9.0', false],
      ['1.0.0', true],
      ['1.2.5', true],
      ['1.2.6', false],
      ['2.0.0', false],
    ] as const) {
      assert.equal(rangeAffects(range, 'npm', v)?.affected, expected, v);
    }
  });
  void it('last_affected includes its own version', () => {
    const range = r([{ introduced: '2.0' }, { last_affected: '2.5' }]);
    assert.equal(rangeAffects(range, 'PyPI', '2.5')?.affected, true);
    assert.equal(rangeAffects(range, 'PyPI', '2.5.post1')?.affected, false);
    assert.equal(rangeAffects(range, 'PyPI', '1.9')?.affected, false);
  });
  void it('limit caps the range', () => {
    const range = r([{ introduced: '0' }, { limit: '1.5.0' }], 'SEMVER');
    assert.equal(rangeAffects(range, 'npm', '1.4.9')?.affected, true);
    assert.equal(rangeAffects(range, 'npm', '1.5.0')?.affected, false);
  });
  void it('uses the ecosystem ordering: dpkg tildes and epochs, apk suffixes', () => {
    const deb = r([{ introduced: '0' }, { fixed: '1:2.0-1' }]);
    assert.equal(rangeAffects(deb, 'Debian:12', '2.5-1')?.affected, true, 'no epoch < epoch 1');
    const tilde = r([{ introduced: '0' }, { fixed: '1.0-1' }]);
    assert.equal(rangeAffects(tilde, 'Debian:12', '1.0~rc1-1')?.affected, true);
    const apk = r([{ introduced: '0' }, { fixed: '3.3.1-r1' }]);
    assert.equal(rangeAffects(apk, 'Alpine:v3.20', '3.3.1-r0')?.affected, true);
    assert.equal(rangeAffects(apk, 'Alpine:v3.20', '3.3.1_p1-r0')?.affected, false);
  });
  void it('skips ranges whose versions the scheme cannot order instead of failing the scan', () => {
    assert.equal(rangeAffects(r([{ introduced: '0' }, { fixed: 'not a version' }], 'SEMVER'), 'npm', '1.0.0'), undefined);
    assert.equal(rangeAffects(r([{ introduced: 'abc123' }], 'ECOSYSTEM'), 'GIT', '1.0'), undefined);
  });
});

void describe('OSV records from real advisories', () => {
  void it('import from a directory and validate every record', async () => {
    const result = await importDirectory(FIXTURES);
    assert.equal(result.rejected.length, 0);
    assert.ok(result.records.some((rec) => rec.id === 'GHSA-p6mc-m468-83gw'));
  });

  void it('match npm, PyPI and release-scoped Debian packages exactly', async () => {
    const db = new OsvDatabase((await importDirectory(FIXTURES)).records);
    const found = matchPackages(db, [
      pkg({ name: 'lodash', version: '4.17.15', ecosystem: 'npm' }),
      pkg({ name: 'minimist', version: '1.2.0', ecosystem: 'npm' }),
      pkg({ name: 'Requests', version: '2.19.0', ecosystem: 'PyPI' }),
      pkg({ name: 'libc6', version: '2.36-9+deb12u14', sourceName: 'glibc', ecosystem: 'Debian', release: 'Debian:12' }),
      pkg({ name: 'libc6', version: '2.36-9+deb12u2', sourceName: 'glibc', ecosystem: 'Debian', release: 'Debian:12', purl: 'pkg:deb/old' }),
      pkg({ name: 'apt', version: '2.2.4', ecosystem: 'Debian', release: 'Debian:11' }),
      pkg({ name: 'apt', version: '2.6.1', ecosystem: 'Debian', release: 'Debian:13' }),
    ]);
    const got = found.map((f) => `${f.id} ${f.package.name}@${f.package.version} ${f.severity} ${f.fixedVersion ?? '-'}`).sort();
    assert.deepEqual(got, [
      'DEBIAN-CVE-2010-4756 libc6@2.36-9+deb12u14 UNKNOWN -',
      'DEBIAN-CVE-2010-4756 libc6@2.36-9+deb12u2 UNKNOWN -',
      'DEBIAN-CVE-2011-3374 apt@2.2.4 UNKNOWN -',
      'DSA-5514-1 libc6@2.36-9+deb12u2 UNKNOWN 2.36-9+deb12u3',
      'GHSA-29mw-wpgm-hmr9 lodash@4.17.15 MEDIUM 4.17.21',
      'GHSA-35jh-r3h4-6jhm lodash@4.17.15 HIGH 4.17.21',
      'GHSA-9wx4-h78v-vm56 Requests@2.19.0 MEDIUM 2.32.0',
      'GHSA-j8r2-6x86-q33q Requests@2.19.0 MEDIUM 2.31.0',
      'GHSA-p6mc-m468-83gw lodash@4.17.15 HIGH 4.17.19',
      'GHSA-vh95-rmgr-6w4m minimist@1.2.0 MEDIUM 1.2.3',
      'GHSA-x84v-xcm2-53pg Requests@2.19.0 HIGH 2.20.0',
      'GHSA-xvch-5gv4-984h minimist@1.2.0 CRITICAL 1.2.6',
    ]);
    const critical = found.find((f) => f.id === 'GHSA-xvch-5gv4-984h');
    assert.equal(critical?.cvssScore, 9.8);
    assert.equal(critical?.fixable, true);
    assert.equal(found.find((f) => f.id === 'DEBIAN-CVE-2010-4756')?.fixable, false);
  });

  void it('computes CVSS v3.1 and v4.0 base scores', () => {
    assert.equal(cvssBaseScore('CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H'), 7.4);
    assert.equal(cvssBaseScore('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N'), 9.3);
    assert.equal(cvssBaseScore('CVSS:3.1/garbage'), undefined);
  });
});

void describe('OSV import sources', () => {
  const dir = mkdtempSync(join(tmpdir(), 'osv-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('reads an all.zip export', async () => {
    const zip = join(dir, 'all.zip');
    execFileSync('python3', [
      '-c',
      'import sys,zipfile,glob,os\nz=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED)\nfor f in glob.glob(sys.argv[2]+"/npm/*.json"): z.write(f, os.path.basename(f))\nz.close()',
      zip,
      FIXTURES,
    ]);
    const result = await importZip(zip);
    assert.equal(result.records.length, 6);
    assert.equal(result.rejected.length, 0);
  });

  void it('a refresh reads only the zip entries that changed, and finds the changed records', async () => {
    const data = join(dir, 'reuse');
    execFileSync('mkdir', ['-p', join(data, 'npm')]);
    const record = (id: string, fixed: string): OsvRecord => ({
      id,
      modified: '2024-01-01T00:00:00Z',
      affected: [{ package: { ecosystem: 'npm', name: id.toLowerCase() }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed }] }] }],
    });
    const writeZip = (records: OsvRecord[]) =>
      execFileSync('python3', [
        '-c',
        'import sys,json,zipfile\nz=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED)\nfor r in json.loads(sys.argv[2]): z.writestr(r["id"]+".json", json.dumps(r))\nz.close()',
        join(data, 'npm', 'all.zip'),
        JSON.stringify(records),
      ]);
    writeZip([record('GHSA-a', '1.0.0'), record('GHSA-b', '1.0.0'), record('GHSA-c', '1.0.0')]);
    const source = new OsvSource({ directory: data });
    const first = await source.refresh();
    const before = new Map([...first.packages()].map(([k, r]) => [k, r[0]]));
    // b changes (same size, other bytes: the CRC tells them apart), c goes, d comes.
    writeZip([record('GHSA-a', '1.0.0'), record('GHSA-b', '2.0.0'), record('GHSA-d', '1.0.0')]);
    const second = await source.refresh();
    const after = new Map([...second.packages()].map(([k, r]) => [k, r[0]]));
    assert.deepEqual([...after.keys()].sort(), ['npm\u0000ghsa-a', 'npm\u0000ghsa-b', 'npm\u0000ghsa-d']);
    // The unchanged entry's record is the one validated before; the changed one is read again.
    assert.equal(after.get('npm\u0000ghsa-a'), before.get('npm\u0000ghsa-a'));
    assert.notEqual(after.get('npm\u0000ghsa-b'), before.get('npm\u0000ghsa-b'));
    assert.deepEqual(after.get('npm\u0000ghsa-b')?.affected?.[0]?.ranges?.[0]?.events, [{ introduced: '0' }, { fixed: '2.0.0' }]);
    assert.notEqual(second.info.version, first.info.version);
    // Read from scratch, the same data.
    assert.equal((await new OsvSource({ directory: data }).refresh()).info.version, second.info.version);
    // Each database built is recalled by its version while something holds it (a delta's plan compares the two).
    assert.equal(source.recall(first.info.version), first);
    assert.equal(source.recall(second.info.version), second);
    assert.equal(source.recall('sha256:unknown'), undefined);
  });

  void it('refuses invalid records by name and keeps the previous data on a failed refresh', async () => {
    const data = join(dir, 'data');
    execFileSync('mkdir', ['-p', data]);
    const good: OsvRecord = {
      id: 'GHSA-good',
      modified: '2024-01-01T00:00:00Z',
      affected: [{ package: { ecosystem: 'npm', name: 'x' }, versions: ['1.0.0'] }],
    };
    writeFileSync(join(data, 'good.json'), JSON.stringify(good));
    const source = new OsvSource({ directory: data });
    const first = await source.current();
    assert.equal(first.info.records, 1);
    writeFileSync(join(data, 'bad.json'), JSON.stringify({ id: 'GHSA-bad', affected: [{ ranges: [{ type: 'SEMVER', events: [] }] }] }));
    await assert.rejects(source.refresh(), (e: unknown) => ChainError.is(e, 'BAD_INPUT') && /bad\.json/.test(e.message) && /modified/.test(e.message));
    assert.equal(await source.current(), first);
  });

  void it('reloads data half maxAge old in the background (before it goes stale), serving the loaded data meanwhile, and retries a failed reload later (after 5 minutes, or half maxAge if shorter)', async () => {
    const data = join(dir, 'aging');
    execFileSync('mkdir', ['-p', data]);
    const record = (id: string): OsvRecord => ({
      id,
      modified: '2024-01-01T00:00:00Z',
      affected: [{ package: { ecosystem: 'npm', name: 'x' }, versions: ['1.0.0'] }],
    });
    writeFileSync(join(data, 'a.json'), JSON.stringify(record('GHSA-a')));
    let clock = 0;
    const failures: unknown[] = [];
    const source = new OsvSource({ directory: data, maxAgeMs: 120_000, now: () => clock, onBackgroundError: (err) => failures.push(err) });
    const first = await source.current();
    writeFileSync(join(data, 'b.json'), JSON.stringify(record('GHSA-b')));
    clock = 59_999;
    assert.equal(await source.current(), first, 'younger than half maxAge: no reload');
    clock = 60_000;
    assert.equal(await source.current(), first, 'the stale data answers while the reload runs');
    const reloaded = await source.refresh(); // joins the background reload
    assert.equal(reloaded.info.records, 2);
    assert.equal(await source.current(), reloaded);

    writeFileSync(join(data, 'bad.json'), JSON.stringify({ id: 'GHSA-bad' }));
    clock = 120_000;
    assert.equal(await source.current(), reloaded);
    await assert.rejects(source.refresh());
    assert.equal(failures.length, 1, 'a failed background reload is reported');
    assert.equal(await source.current(), reloaded, 'and the loaded data stays');
    // Retried after 5 minutes, or after half maxAge when that is shorter (here 1 minute).
    clock = 120_000 + 60_000 - 1;
    await source.current();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(failures.length, 1, 'no retry before a minute');
    clock = 120_000 + 60_000;
    await source.current();
    await assert.rejects(source.refresh());
    assert.equal(failures.length, 2, 'retried after a minute');
  });
});
