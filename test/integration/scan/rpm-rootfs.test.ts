import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { readBdbHash } from '../../../src/scan/catalog/rpmdb/bdb';
import { type Package, rescanStored, type ScanResult } from '../../../src/scan';
import { findTool } from '../../../workers/local/tools';
import { pushImage, writeOciImage } from '../../support/images';
import { testDataDir, useRegistry } from '../../support/services';
import {
  bdbDump,
  diffLayer,
  exportHeaders,
  rpmbuild,
  rpmImportKey,
  rpmInitDb,
  rpmInstall,
  rpmQueryAll,
  rpmSkipReason,
  type RpmTruth,
  snapshot,
  type SpecInput,
  writeBdbPackages,
} from '../../support/rpm';
import { scannerFor } from './scan-support';

const ROCKY_9 =
  'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPLATFORM_ID="platform:el9"\nPRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n';
const ALMA_8 =
  'NAME="AlmaLinux"\nVERSION="8.9 (Midnight Oncilla)"\nID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="8.9"\nPRETTY_NAME="AlmaLinux 8.9 (Midnight Oncilla)"\n';
const VENDOR = 'Rocky Enterprise Software Foundation';

/** Layer 1: openssl (epoch 1, two binaries from one source), tzdata (noarch), perl subpackages (one with its own epoch, version and release). */
const BASE: SpecInput[] = [
  {
    name: 'openssl',
    epoch: 1,
    version: '3.0.7',
    release: '24.el9',
    arch: 'x86_64',
    license: 'ASL 2.0',
    vendor: VENDOR,
    packages: [
      { name: 'openssl', files: [{ path: '/usr/bin/openssl', content: 'openssl 3.0.7' }] },
      {
        name: 'openssl-libs',
        files: [
          { path: '/usr/lib64/libssl.so.3', content: 'libssl 3.0.7' },
          { path: '/etc/pki/tls/openssl.cnf', content: '[openssl_init]', config: true },
        ],
      },
    ],
  },
  {
    name: 'tzdata',
    version: '2024a',
    release: '1.el9',
    arch: 'noarch',
    license: 'Public Domain',
    vendor: VENDOR,
    packages: [{ name: 'tzdata', files: [{ path: '/usr/share/zoneinfo/UTC', content: 'TZif 2024a' }] }],
  },
  {
    name: 'perl',
    epoch: 4,
    version: '5.32.1',
    release: '480.el9',
    arch: 'x86_64',
    license: 'GPL+ or Artistic',
    vendor: VENDOR,
    packages: [
      { name: 'perl-libs', files: [{ path: '/usr/lib64/libperl.so.5.32', content: 'libperl' }] },
      { name: 'perl-Carp', tags: { Epoch: '0', Version: '1.50', Release: '460.el9' }, files: [{ path: '/usr/share/perl5/Carp.pm', content: 'package Carp;' }] },
    ],
  },
];
/** Layer 2: tzdata upgraded, curl's two binaries added. */
const UPDATE: SpecInput[] = [
  {
    name: 'tzdata',
    version: '2024b',
    release: '2.el9',
    arch: 'noarch',
    license: 'Public Domain',
    vendor: VENDOR,
    packages: [{ name: 'tzdata', files: [{ path: '/usr/share/zoneinfo/UTC', content: 'TZif 2024b' }] }],
  },
  {
    name: 'curl',
    version: '7.76.1',
    release: '26.el9_3.2',
    arch: 'x86_64',
    license: 'MIT',
    vendor: VENDOR,
    packages: [
      { name: 'curl-minimal', files: [{ path: '/usr/bin/curl', content: 'curl 7.76.1' }] },
      { name: 'libcurl-minimal', files: [{ path: '/usr/lib64/libcurl.so.4', content: 'libcurl 7.76.1' }] },
    ],
  },
];

/** What the catalogue must say for each package rpm lists (gpg-pubkey pseudo-packages are not packages). */
function expected(truth: RpmTruth[]): string[] {
  return truth
    .filter((t) => t.name !== 'gpg-pubkey')
    .map((t) => {
      const src = /^(.+)-([^-]+)-([^-]+)\.src\.rpm$/.exec(t.sourceRpm)!;
      const epoch = t.epoch ? `${t.epoch}:` : '';
      // The source's epoch is the package's when built with the source's version, unknown otherwise.
      const sourceEpoch = src[2] === t.version && src[3] === t.release ? epoch : '';
      return `${t.name} ${epoch}${t.version}-${t.release} ${t.arch} ${src[1]} ${sourceEpoch}${src[2]}-${src[3]}`;
    })
    .sort();
}

const arch = (p: Package) => /[?&]arch=([^&]+)/.exec(p.purl)?.[1];
const ours = (packages: Package[]) => packages.map((p) => `${p.name} ${p.version} ${arch(p)} ${p.sourceName} ${p.sourceVersion}`).sort();

/** A gpg public key in a throwaway keyring, for rpm --import (its gpg-pubkey header must be skipped). */
function armoredKey(dir: string): string | undefined {
  if (!findTool('gpg')) return undefined;
  const home = join(dir, 'gnupg');
  mkdirSync(home, { mode: 0o700 });
  const gpg = (...args: string[]) => execFileSync('gpg', ['--homedir', home, '--batch', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  gpg('--passphrase', '', '--quick-gen-key', 'Scanner Test <test@example.invalid>', 'ed25519', 'sign', 'never');
  const file = join(dir, 'key.asc');
  writeFileSync(file, gpg('--armor', '--export'));
  return file;
}

const skip = rpmSkipReason(['db5.3_load', 'db5.3_dump']);

void describe('rpm databases of real rpm-installed root filesystems', { skip }, () => {
  const work = testDataDir();
  const root = join(work, 'root');
  let truth: RpmTruth[];
  let layerDigests: string[];
  let scanner: ReturnType<typeof scannerFor>;
  let rocky: ScanResult;
  let keyImported = false;

  before(async () => {
    const registry = await useRegistry();
    scanner = scannerFor(registry.url);
    const base = BASE.flatMap((s) => rpmbuild(work, s));
    const update = UPDATE.flatMap((s) => rpmbuild(work, s));

    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc/os-release'), ROCKY_9);
    rpmInitDb(root);
    rpmInstall(root, base);
    const key = armoredKey(work);
    if (key) {
      rpmImportKey(root, key);
      keyImported = true;
    }
    const layer1 = snapshot(root);
    rpmInstall(root, update);
    const layer2 = diffLayer(layer1, snapshot(root));
    truth = rpmQueryAll(root);

    const layout = join(work, 'rocky');
    await writeOciImage(layout, { layers: [[...layer1.values()], layer2] }, 'v1');
    const manifest = JSON.parse(
      readFileSync(join(layout, 'blobs/sha256', JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')).manifests[0].digest.slice(7)), 'utf8'),
    );
    layerDigests = manifest.layers.map((l: { digest: string }) => l.digest);
    await pushImage(layout, 'v1', `${registry.host}/rocky:v1`);
    rocky = await scanner.scan('rocky', 'v1');
  });

  void it('sqlite rpmdb: catalogues exactly what `rpm -qa` lists (epoch, version, release, arch, source rpm), gpg-pubkey left out', () => {
    assert.equal(truth.filter((t) => t.name !== 'gpg-pubkey').length, 7);
    if (keyImported)
      assert.ok(
        truth.some((t) => t.name === 'gpg-pubkey'),
        'rpm --import added a gpg-pubkey header',
      );
    assert.deepEqual(ours(rocky.packages), expected(truth));
    assert.deepEqual(rocky.catalogWarnings, []);
  });

  void it('gives Rocky Linux packages the release-scoped ecosystem, rpm purls, licences and the database location', () => {
    assert.equal(rocky.summary.os?.id, 'rocky');
    const libs = rocky.packages.find((p) => p.name === 'openssl-libs')!;
    assert.equal(libs.purl, 'pkg:rpm/rocky/openssl-libs@3.0.7-24.el9?arch=x86_64&distro=rocky-9.3&epoch=1');
    assert.deepEqual(libs.licenses, ['ASL 2.0']);
    const carp = rocky.packages.find((p) => p.name === 'perl-Carp')!;
    assert.equal(carp.purl, 'pkg:rpm/rocky/perl-Carp@1.50-460.el9?arch=x86_64&distro=rocky-9.3');
    for (const p of rocky.packages) {
      assert.equal(p.ecosystem, 'Rocky Linux');
      assert.equal(p.release, 'Rocky Linux:9');
      assert.equal(p.location, '/var/lib/rpm/rpmdb.sqlite');
    }
  });

  void it('attributes each package to the layer that last wrote its files', () => {
    const layerOf = (name: string) => rocky.packages.find((p) => p.name === name)?.layer;
    assert.equal(layerOf('openssl-libs'), layerDigests[0]);
    assert.equal(layerOf('perl-Carp'), layerDigests[0]);
    assert.equal(layerOf('tzdata'), layerDigests[1], 'upgraded in the second layer');
    assert.equal(layerOf('curl-minimal'), layerDigests[1]);
  });

  void it('matches Rocky Linux 9 advisories by binary package with rpm version order, and only for Rocky Linux 9', () => {
    const found = rocky.findings.map((f) => `${f.id} ${f.package.name} ${f.fixedVersion ?? '-'} ${f.severity}`).sort();
    // RLSA-2024:2447 fixes openssl in 1:3.0.7-27.el9 (installed 1:3.0.7-24.el9); RLSA-2023:6595 fixes perl in
    // exactly the 4:5.32.1-480.el9 installed, and does not name perl-Carp (its own epoch 0 must not be compared
    // with perl's 4); the AlmaLinux 9 curl advisory is another distribution's.
    assert.deepEqual(found, ['RLSA-2024:2447 openssl 1:3.0.7-27.el9 MEDIUM', 'RLSA-2024:2447 openssl-libs 1:3.0.7-27.el9 MEDIUM']);
    assert.ok(rocky.findings.every((f) => f.fixable));
  });

  void it('rescans the stored SBOM to the same packages and findings', async () => {
    const again = await rescanStored({ osv: scanner.osv, sbomStore: scanner.sbomStore }, rocky.summary.digest);
    assert.deepEqual(again?.packages, rocky.packages);
    assert.deepEqual(again?.findings, rocky.findings);
  });

  void it('Berkeley DB Packages (db_load from `rpmdb --exportdb`): items equal db_dump, packages equal `rpm -qa` (sqlite and bdb_ro)', async () => {
    const bdbRoot = join(work, 'bdb-root');
    const packagesFile = join(bdbRoot, 'var/lib/rpm/Packages');
    writeBdbPackages(packagesFile, exportHeaders(root), work);
    const bytes = readFileSync(packagesFile);
    const read = readBdbHash(bytes);
    assert.deepEqual(read.errors, []);
    assert.deepEqual(
      read.items.map((i) => ({ key: i.key.toString('hex'), value: i.value.toString('hex') })).sort((a, b) => a.key.localeCompare(b.key)),
      bdbDump(packagesFile).sort((a, b) => a.key.localeCompare(b.key)),
    );

    // rpm's own read-only Berkeley DB backend lists the same packages from it.
    assert.deepEqual(expected(rpmQueryAll(bdbRoot, 'bdb_ro')), expected(truth));

    const registry = await useRegistry();
    const layout = join(work, 'alma');
    await writeOciImage(
      layout,
      {
        layers: [
          [
            { path: 'etc', type: 'directory' },
            { path: 'etc/os-release', content: ALMA_8 },
            { path: 'var/lib/rpm', type: 'directory' },
            { path: 'var/lib/rpm/Packages', content: bytes },
          ],
        ],
      },
      'v1',
    );
    await pushImage(layout, 'v1', `${registry.host}/alma:v1`);
    const alma = await scannerFor(registry.url).scan('alma', 'v1');
    assert.deepEqual(ours(alma.packages), expected(truth));
    assert.deepEqual(alma.catalogWarnings, []);
    assert.ok(alma.packages.every((p) => p.ecosystem === 'AlmaLinux' && p.release === 'AlmaLinux:8' && p.location === '/var/lib/rpm/Packages'));
    assert.ok(alma.packages.some((p) => p.purl === 'pkg:rpm/almalinux/openssl-libs@3.0.7-24.el9?arch=x86_64&distro=almalinux-8.9&epoch=1'));
    assert.deepEqual(alma.findings, [], 'the AlmaLinux 9 and Rocky Linux 9 fixtures do not apply to AlmaLinux 8');
  });
});
