import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { releaseScope } from '../../../src/scan/ecosystems';
import { catalogImage, type CatalogWarning, osvRelease } from '../../../src/scan/catalog';
import { parseOsRelease } from '../../../src/scan/catalog/os-release';
import { rpmEcosystem } from '../../../src/scan/catalog/rpm';
import { BdbError, readBdbHash } from '../../../src/scan/catalog/rpmdb/bdb';
import { parseRpmHeader, readRpmPackage, RpmHeaderError } from '../../../src/scan/catalog/rpmdb/header';
import { applyWal, readSqliteRpmdb } from '../../../src/scan/catalog/rpmdb/sqlite';
import { type FileNode, FileTree } from '../../../src/scan/fs/tree';
import { matchPackages, OsvDatabase, type OsvRecord } from '../../../src/scan/osv';
import { queriesFor } from '../../../src/scan/osv/findings';
import { type Package } from '../../../src/scan/types';
import { exportHeaders, rpmbuild, rpmInitDb, rpmInstall, rpmQueryAll, rpmSkipReason, type SpecInput, writeBdbPackages } from '../../support/rpm';

function treeOf(files: Record<string, Buffer | string>): FileTree {
  const tree = new FileTree();
  const entries: FileNode[] = Object.entries(files).map(([path, content]) => {
    const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
    return { path, type: 'file', mode: 0o644, uid: 0, gid: 0, size: buf.length, layerIndex: 0, layer: 'sha256:l0', content: buf };
  });
  tree.apply({ index: 0, digest: 'sha256:l0', whiteouts: [], opaqueDirs: [], entries });
  return tree;
}

const OS = {
  rocky: 'ID="rocky"\nVERSION_ID="9.3"\nPRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n',
  rhel: 'NAME="Red Hat Enterprise Linux"\nID="rhel"\nVERSION_ID="9.4"\nPRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"\n',
};

const SPEC: SpecInput = {
  name: 'openssl',
  epoch: 1,
  version: '3.0.7',
  release: '24.el9',
  arch: 'x86_64',
  license: 'ASL 2.0',
  vendor: 'Rocky Enterprise Software Foundation',
  packages: [
    { name: 'openssl', files: [{ path: '/usr/bin/openssl', content: 'openssl' }] },
    {
      name: 'openssl-libs',
      files: [
        { path: '/usr/lib64/libssl.so.3', content: 'libssl' },
        { path: '/etc/pki/tls/openssl.cnf', content: '[openssl_init]', config: true },
      ],
    },
  ],
};

const skip = rpmSkipReason(['python3', 'db5.3_load']);

void describe('rpm database readers on databases rpm wrote', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'rpmdb-unit-'));
  const root = join(dir, 'root');
  let blobs: Buffer[];
  let sqlite: Buffer;
  after(() => rmSync(dir, { recursive: true, force: true }));

  before(() => {
    rpmInitDb(root);
    rpmInstall(root, rpmbuild(dir, SPEC));
    blobs = exportHeaders(root);
    sqlite = readFileSync(join(root, 'var/lib/rpm/rpmdb.sqlite'));
  });

  /** A copy of the first header with `edit` applied. */
  const corrupt = (edit: (b: Buffer) => Buffer | void): Buffer => {
    const copy = Buffer.from(blobs[0]!);
    return edit(copy) ?? copy;
  };
  /** Index of the entry for `tag` in a header blob. */
  const entryAt = (b: Buffer, tag: number) => {
    for (let i = 0; i < b.readInt32BE(0); i++) if (b.readInt32BE(8 + 16 * i) === tag) return 8 + 16 * i;
    throw new Error(`no tag ${tag}`);
  };

  void it('header: every field rpm -q prints, the file list with config flags', () => {
    const truth = rpmQueryAll(root).find((t) => t.name === 'openssl-libs')!;
    const blob = blobs.find((b) => readRpmPackage(b).name === 'openssl-libs')!;
    const info = readRpmPackage(blob);
    assert.deepEqual(
      { name: info.name, epoch: info.epoch, version: info.version, release: info.release, arch: info.arch, sourceRpm: info.sourceRpm },
      { name: truth.name, epoch: truth.epoch, version: truth.version, release: truth.release, arch: truth.arch, sourceRpm: truth.sourceRpm },
    );
    assert.equal(info.license, 'ASL 2.0');
    assert.equal(info.vendor, 'Rocky Enterprise Software Foundation');
    assert.deepEqual(
      info.files.filter((f) => !f.directory),
      [
        { path: '/etc/pki/tls/openssl.cnf', config: true, directory: false },
        { path: '/usr/lib64/libssl.so.3', config: false, directory: false },
      ],
    );
  });

  void it('header: truncated and corrupt blobs are refused with the reason, never read out of bounds', () => {
    const il = blobs[0]!.readInt32BE(0);
    const dl = blobs[0]!.readInt32BE(4);
    const cases: [string, Buffer, RegExp][] = [
      ['4 bytes', blobs[0]!.subarray(0, 4), /shorter than the 8-byte preamble/],
      ['cut in the index', blobs[0]!.subarray(0, 8 + 16 * 3), /shorter than its/],
      ['cut in the data', blobs[0]!.subarray(0, blobs[0]!.length - 1), /shorter than its/],
      ['no entries', corrupt((b) => void b.writeInt32BE(0, 0)), /index count 0/],
      ['too many entries', corrupt((b) => void b.writeInt32BE(0x10000, 0)), /index count 65536/],
      ['negative data length', corrupt((b) => void b.writeInt32BE(-5, 4)), /data length -5/],
      ['offset past the data', corrupt((b) => void b.writeInt32BE(dl + 100, entryAt(b, 1000) + 8)), /offset \d+ outside/],
      ['unknown type', corrupt((b) => void b.writeUInt32BE(42, entryAt(b, 1000) + 4)), /unknown type 42/],
      ['misaligned integer', corrupt((b) => void b.writeInt32BE(b.readInt32BE(entryAt(b, 1003) + 8) + 1, entryAt(b, 1003) + 8)), /not aligned/],
      ['integers past the data', corrupt((b) => void b.writeUInt32BE(dl, entryAt(b, 1003) + 12)), /overrun/],
      ['string array past the data', corrupt((b) => void b.writeUInt32BE(dl, entryAt(b, 1117) + 12)), /runs past the data store/],
      ['STRING with count 2', corrupt((b) => void b.writeUInt32BE(2, entryAt(b, 1000) + 12)), /STRING with count 2/],
      ['region trailer', corrupt((b) => void b.writeInt32BE(12345, 8 + 16 * il + b.readInt32BE(16))), /invalid region trailer/],
    ];
    for (const [what, blob, reason] of cases)
      assert.throws(
        () => readRpmPackage(blob),
        (e: unknown) => e instanceof RpmHeaderError && reason.test(e.message),
        what,
      );
    // Every single-byte truncation is refused cleanly.
    for (let n = 0; n < blobs[0]!.length; n += 7) assert.throws(() => parseRpmHeader(blobs[0]!.subarray(0, n)), RpmHeaderError);
  });

  void it('cataloger: a corrupt header skips that package with a counted warning; the others are catalogued', async () => {
    const copy = join(dir, 'corrupt.sqlite');
    copyFileSync(join(root, 'var/lib/rpm/rpmdb.sqlite'), copy);
    // SQLite itself rewrites one row's blob (cut short), as a damaged database would hold it.
    execFileSync('python3', [
      '-c',
      'import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nc.execute("UPDATE Packages SET blob=substr(blob,1,100) WHERE hnum=(SELECT min(hnum) FROM Packages)")\nc.commit()\nc.close()',
      copy,
    ]);
    const warnings: CatalogWarning[] = [];
    const { packages } = await catalogImage({
      tree: treeOf({ '/etc/os-release': OS.rocky, '/var/lib/rpm/rpmdb.sqlite': readFileSync(copy) }),
      arch: 'amd64',
      warn: (w) => warnings.push(w),
    });
    assert.equal(packages.length, 1);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.skipped, 1);
    assert.match(warnings[0]!.message, /1 of 2 package header\(s\) skipped as malformed: hnum \d+: blob of 100 bytes is shorter/);
  });

  void it('cataloger: unreadable or unsupported databases are warnings, not failures', async () => {
    const cases: [Record<string, string | Buffer>, RegExp][] = [
      [{ '/var/lib/rpm/rpmdb.sqlite': 'not a database at all' }, /unreadable rpm database: not an SQLite 3 database/],
      [{ '/var/lib/rpm/rpmdb.sqlite': sqlite.subarray(0, 4096) }, /unreadable rpm database/],
      [{ '/var/lib/rpm/Packages': Buffer.alloc(8192, 7) }, /not a Berkeley DB hash database/],
      [{ '/usr/lib/sysimage/rpm/Packages.db': 'ndb' }, /NDB rpm databases \(Packages\.db\) are not supported/],
    ];
    for (const [files, message] of cases) {
      const warnings: CatalogWarning[] = [];
      const { packages } = await catalogImage({ tree: treeOf({ '/etc/os-release': OS.rocky, ...files }), arch: 'amd64', warn: (w) => warnings.push(w) });
      assert.deepEqual(packages, []);
      assert.equal(warnings.length, 1, String(message));
      assert.match(warnings[0]!.message, message);
    }
  });

  void it('sqlite: committed transactions still in the WAL are applied, as rpm (SQLite) reads them', async () => {
    const wdir = join(dir, 'wal-root', 'var/lib/rpm');
    mkdirSync(wdir, { recursive: true });
    // A real SQLite WAL: a row deleted and one added, committed, copied before the connection checkpoints at close.
    const script = [
      'import sqlite3,sys,shutil',
      'c=sqlite3.connect(sys.argv[1])',
      'c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA wal_autocheckpoint=0")',
      'c.execute("INSERT INTO Packages(hnum,blob) SELECT 100,blob FROM Packages WHERE hnum=(SELECT max(hnum) FROM Packages)")',
      'c.execute("DELETE FROM Packages WHERE hnum=(SELECT min(hnum) FROM Packages)")',
      'c.commit()',
      'shutil.copy(sys.argv[1], sys.argv[2]); shutil.copy(sys.argv[1]+"-wal", sys.argv[2]+"-wal")',
      'c.close()',
    ].join('\n');
    const work = join(dir, 'wal-work.sqlite');
    copyFileSync(join(root, 'var/lib/rpm/rpmdb.sqlite'), work);
    execFileSync('python3', ['-c', script, work, join(wdir, 'rpmdb.sqlite')]);
    const db = readFileSync(join(wdir, 'rpmdb.sqlite'));
    const wal = readFileSync(join(wdir, 'rpmdb.sqlite-wal'));
    assert.ok(statSync(join(wdir, 'rpmdb.sqlite-wal')).size > 0);
    assert.ok(applyWal(db, wal).applied > 0);
    const names = async (w?: Buffer) => (await readSqliteRpmdb(db, w)).map((r) => `${r.hnum} ${readRpmPackage(r.blob).name}`);
    const withWal = await names(wal);
    assert.notDeepEqual(withWal, await names(), 'the WAL changes what the database says');
    // rpm (through SQLite) reads the copied database and WAL the same way.
    const truth = rpmQueryAll(join(dir, 'wal-root'));
    assert.deepEqual(withWal.map((l) => l.split(' ')[1]).sort(), truth.map((t) => t.name).sort());
    assert.ok(withWal.some((l) => l.startsWith('100 ')));
    // A WAL cut in its last frame loses only that uncommitted tail; garbage is ignored.
    assert.deepEqual(applyWal(db, wal.subarray(0, wal.length - 1)).applied < applyWal(db, wal).applied, true);
    assert.equal(applyWal(db, Buffer.alloc(4096, 1)).applied, 0);
  });

  void it('bdb: a corrupt overflow chain costs that item only', () => {
    const file = join(dir, 'bdb', 'Packages');
    writeBdbPackages(file, blobs, dir);
    const bytes = readFileSync(file);
    const good = readBdbHash(bytes);
    assert.equal(good.items.length, blobs.length);
    const pageSize = bytes.readUInt32LE(20);
    // Break the first overflow page's type: its item is reported, the rest still read.
    const broken = Buffer.from(bytes);
    for (let p = 1; p * pageSize < broken.length; p++) {
      if (broken[p * pageSize + 25] === 7) {
        broken[p * pageSize + 25] = 0;
        break;
      }
    }
    const result = readBdbHash(broken);
    assert.equal(result.items.length, blobs.length - 1);
    assert.match(result.errors[0]!, /in an overflow chain is of type 0/);
    assert.throws(() => readBdbHash(bytes.subarray(0, 100)), BdbError);
    const badPageSize = Buffer.from(bytes);
    badPageSize.writeUInt32LE(1000, 20);
    assert.throws(() => readBdbHash(badPageSize), /invalid page size 1000/);
  });
});

void describe('rpm ecosystems and OSV matching', () => {
  const os = (text: string) => {
    const f = parseOsRelease(text);
    return { id: f.ID!.toLowerCase(), versionId: f.VERSION_ID ?? '', ...(f.PRETTY_NAME ? { prettyName: f.PRETTY_NAME } : {}), idLike: [] };
  };
  const rpmPkg = (p: Partial<Package> & Pick<Package, 'name' | 'version' | 'ecosystem'>): Package => ({
    purl: `pkg:rpm/x/${p.name}`,
    layer: 'sha256:l',
    location: '/var/lib/rpm/rpmdb.sqlite',
    ...p,
  });
  const range = (fixed: string) => [{ type: 'ECOSYSTEM' as const, events: [{ introduced: '0' }, { fixed }] }];

  void it('os-release → OSV ecosystem and release scope', () => {
    const cases: [string, string, string | undefined][] = [
      [OS.rocky, 'Rocky Linux', 'Rocky Linux:9'],
      [OS.rhel, 'Red Hat', 'Red Hat:enterprise_linux:9'],
      ['ID="almalinux"\nVERSION_ID="8.9"\n', 'AlmaLinux', 'AlmaLinux:8'],
      ['ID="opensuse-leap"\nVERSION_ID="15.6"\nPRETTY_NAME="openSUSE Leap 15.6"\n', 'openSUSE', 'openSUSE:Leap 15.6'],
      ['ID="opensuse-tumbleweed"\nVERSION_ID="20240801"\nPRETTY_NAME="openSUSE Tumbleweed"\n', 'openSUSE', 'openSUSE:Tumbleweed'],
      ['ID="sles"\nVERSION_ID="15.5"\nPRETTY_NAME="SUSE Linux Enterprise Server 15 SP5"\n', 'SUSE', 'SUSE:Linux Enterprise 15 SP5'],
      ['ID=mageia\nVERSION_ID=9\n', 'Mageia', 'Mageia:9'],
      ['ID=fedora\nVERSION_ID=40\n', 'RPM', undefined],
      ['ID="amzn"\nVERSION_ID="2023"\n', 'RPM', undefined],
    ];
    for (const [text, ecosystem, release] of cases) {
      assert.equal(rpmEcosystem(os(text)), ecosystem, text);
      assert.equal(osvRelease(os(text)), release, text);
    }
    assert.equal(releaseScope('Red Hat:enterprise_linux:9::appstream'), 'Red Hat:enterprise_linux:9');
    assert.equal(releaseScope('Red Hat:enterprise_linux:10.0'), 'Red Hat:enterprise_linux:10');
    assert.equal(releaseScope('Red Hat:rhel_eus:9.2::baseos'), 'Red Hat:rhel_eus:9.2::baseos');
    assert.equal(releaseScope('SUSE:Linux Enterprise Module for Basesystem 15 SP5'), 'SUSE:Linux Enterprise 15 SP5');
    assert.equal(releaseScope('SUSE:Linux Enterprise Server 15 SP5-LTSS'), 'SUSE:Linux Enterprise 15 SP5');
    assert.equal(releaseScope('Rocky Linux:9'), 'Rocky Linux:9');
  });

  void it('Red Hat: advisories of every RHEL 9 repository stream match, EUS and RHEL 8 ones do not, with epochs ordered', () => {
    const records: OsvRecord[] = [
      {
        id: 'RHSA-2024:2447',
        modified: '2024-04-30T00:00:00Z',
        affected: [
          { package: { ecosystem: 'Red Hat:enterprise_linux:9::appstream', name: 'openssl-devel' }, ranges: range('1:3.0.7-27.el9') },
          { package: { ecosystem: 'Red Hat:enterprise_linux:9::baseos', name: 'openssl-libs' }, ranges: range('1:3.0.7-27.el9') },
        ],
      },
      {
        id: 'RHSA-2024:0001',
        modified: '2024-01-01T00:00:00Z',
        affected: [{ package: { ecosystem: 'Red Hat:rhel_eus:9.2::baseos', name: 'openssl-libs' }, ranges: range('1:3.0.7-99.el9_2') }],
      },
      {
        id: 'RHSA-2024:0002',
        modified: '2024-01-01T00:00:00Z',
        affected: [{ package: { ecosystem: 'Red Hat:enterprise_linux:8::baseos', name: 'openssl-libs' }, ranges: range('1:9.9.9-1.el8') }],
      },
      // An advisory fixed in a version without the epoch is older than anything of epoch 1.
      {
        id: 'RHSA-2024:0003',
        modified: '2024-01-01T00:00:00Z',
        affected: [{ package: { ecosystem: 'Red Hat:enterprise_linux:9::baseos', name: 'openssl-libs' }, ranges: range('3.0.7-99.el9') }],
      },
    ];
    const pkg = rpmPkg({
      name: 'openssl-libs',
      version: '1:3.0.7-24.el9',
      ecosystem: 'Red Hat',
      release: 'Red Hat:enterprise_linux:9',
      sourceName: 'openssl',
      sourceVersion: '1:3.0.7-24.el9',
    });
    const found = matchPackages(new OsvDatabase(records), [pkg]);
    assert.deepEqual(
      found.map((f) => `${f.id} ${f.fixedVersion}`),
      ['RHSA-2024:2447 1:3.0.7-27.el9'],
    );
    const fixed = matchPackages(new OsvDatabase(records), [{ ...pkg, version: '1:3.0.7-27.el9', sourceVersion: '1:3.0.7-27.el9' }]);
    assert.deepEqual(fixed, []);
  });

  void it('AlmaLinux / Rocky: binary name first, source name only for packages built with the source version', () => {
    const libs = rpmPkg({
      name: 'openssl-libs',
      version: '1:3.0.7-24.el9',
      ecosystem: 'AlmaLinux',
      release: 'AlmaLinux:9',
      sourceName: 'openssl',
      sourceVersion: '1:3.0.7-24.el9',
    });
    assert.deepEqual(
      queriesFor(libs).map((q) => `${q.ecosystem}/${q.name}@${q.version}`),
      [
        'AlmaLinux:9/openssl-libs@1:3.0.7-24.el9',
        'AlmaLinux:9/openssl@1:3.0.7-24.el9',
        'AlmaLinux/openssl-libs@1:3.0.7-24.el9',
        'AlmaLinux/openssl@1:3.0.7-24.el9',
      ],
    );
    const carp = rpmPkg({
      name: 'perl-Carp',
      version: '1.50-460.el9',
      ecosystem: 'Rocky Linux',
      release: 'Rocky Linux:9',
      sourceName: 'perl',
      sourceVersion: '5.32.1-480.el9',
    });
    assert.deepEqual(
      queriesFor(carp).map((q) => `${q.ecosystem}/${q.name}`),
      ['Rocky Linux:9/perl-Carp', 'Rocky Linux/perl-Carp'],
    );
    // An advisory keyed by the source package, as the OSV schema describes AlmaLinux's.
    const bySource: OsvRecord = {
      id: 'ALSA-2024:2447',
      modified: '2024-05-01T00:00:00Z',
      affected: [{ package: { ecosystem: 'AlmaLinux:9', name: 'openssl' }, ranges: range('1:3.0.7-27.el9') }],
    };
    assert.deepEqual(
      matchPackages(new OsvDatabase([bySource]), [libs]).map((f) => `${f.id} ${f.package.name} ${f.fixedVersion}`),
      ['ALSA-2024:2447 openssl-libs 1:3.0.7-27.el9'],
    );
  });

  void it('SUSE and openSUSE: by source package, SLE modules matched under their service pack', () => {
    const records: OsvRecord[] = [
      {
        id: 'SUSE-SU-2024:1234-1',
        modified: '2024-04-01T00:00:00Z',
        affected: [
          { package: { ecosystem: 'SUSE:Linux Enterprise Module for Basesystem 15 SP5', name: 'openssl-3' }, ranges: range('3.0.8-150500.5.27.1') },
          { package: { ecosystem: 'SUSE:Linux Enterprise Module for Basesystem 15 SP4', name: 'openssl-3' }, ranges: range('3.0.8-150400.4.99.1') },
        ],
      },
      {
        id: 'openSUSE-SU-2024:0001-1',
        modified: '2024-04-01T00:00:00Z',
        affected: [{ package: { ecosystem: 'openSUSE:Leap 15.6', name: 'openssl-3' }, ranges: range('3.1.4-150600.5.7.1') }],
      },
    ];
    const db = new OsvDatabase(records);
    const sles = rpmPkg({
      name: 'libopenssl3',
      version: '3.0.8-150500.5.20.1',
      ecosystem: 'SUSE',
      release: 'SUSE:Linux Enterprise 15 SP5',
      sourceName: 'openssl-3',
      sourceVersion: '3.0.8-150500.5.20.1',
    });
    const leap = rpmPkg({
      name: 'libopenssl3',
      version: '3.1.4-150600.5.3.1',
      ecosystem: 'openSUSE',
      release: 'openSUSE:Leap 15.6',
      sourceName: 'openssl-3',
      sourceVersion: '3.1.4-150600.5.3.1',
    });
    assert.deepEqual(
      matchPackages(db, [sles, leap]).map((f) => `${f.id} ${f.package.ecosystem} ${f.fixedVersion}`),
      // Same severity: by id in code-unit order (upper case before lower case).
      ['SUSE-SU-2024:1234-1 SUSE 3.0.8-150500.5.27.1', 'openSUSE-SU-2024:0001-1 openSUSE 3.1.4-150600.5.7.1'],
    );
  });

  void it('catalogues nothing and warns nothing for images without an rpm database', async () => {
    const warnings: CatalogWarning[] = [];
    const { packages } = await catalogImage({ tree: treeOf({ '/etc/os-release': OS.rocky }), arch: 'amd64', warn: (w) => warnings.push(w) });
    assert.deepEqual(packages, []);
    assert.deepEqual(warnings, []);
  });
});
