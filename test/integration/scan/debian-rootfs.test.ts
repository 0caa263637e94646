import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { pushImage } from '../../support/images';
import { testDataDir, useRegistry } from '../../support/services';
import { rescanStored, type ScanResult } from '../../../src/scan';
import { debianRootfsTar, ociLayoutFromTar } from './rootfs-image';
import { scannerFor } from './scan-support';

const rootfs = debianRootfsTar('bookworm');

/** Unfixed Debian:12 records of the fixtures, by source package (every binary built from it is affected). */
const UNFIXED_BY_SOURCE: Record<string, string> = {
  apt: 'DEBIAN-CVE-2011-3374',
  tar: 'DEBIAN-CVE-2005-2541',
  coreutils: 'DEBIAN-CVE-2017-18018',
  'util-linux': 'DEBIAN-CVE-2022-0563',
  'gcc-12': 'DEBIAN-CVE-2022-27943',
  glibc: 'DEBIAN-CVE-2010-4756',
};

void describe('debootstrap minbase Debian 12 rootfs', { skip: 'skip' in rootfs ? rootfs.skip : false }, () => {
  let result: ScanResult;
  let truth: { name: string; version: string; source: string; sourceVersion: string }[];
  let scanner: ReturnType<typeof scannerFor>;

  before(async () => {
    const tar = (rootfs as { tar: string }).tar;
    const work = testDataDir();
    const registry = await useRegistry();
    await ociLayoutFromTar(tar, join(work, 'layout'), 'bookworm');
    await pushImage(join(work, 'layout'), 'bookworm', `${registry.host}/debian:bookworm`);
    // Ground truth: dpkg-query on the very same rootfs.
    const db = join(work, 'dpkg');
    mkdirSync(db);
    execFileSync('tar', ['-xf', tar, '-C', db, './var/lib/dpkg/status']);
    const out = execFileSync(
      'dpkg-query',
      ['--admindir', join(db, 'var/lib/dpkg'), '-W', '-f', '${db:Status-Status}\t${Package}\t${Version}\t${source:Package}\t${source:Version}\n'],
      { encoding: 'utf8' },
    );
    truth = out
      .trim()
      .split('\n')
      .map((l) => l.split('\t'))
      .filter((f) => f[0] === 'installed')
      .map(([, name, version, source, sourceVersion]) => ({ name: name!, version: version!, source: source!, sourceVersion: sourceVersion! }));
    scanner = scannerFor(registry.url);
    result = await scanner.scan('debian', 'bookworm');
  });

  void it('detects Debian 12 from /etc/os-release', () => {
    assert.equal(result.summary.os?.id, 'debian');
    assert.equal(result.summary.os?.versionId, '12');
  });

  void it('catalogues exactly the packages dpkg-query lists, with source package and version', () => {
    const ours = result.packages
      .filter((p) => p.ecosystem === 'Debian')
      .map((p) => `${p.name} ${p.version} ${p.sourceName} ${p.sourceVersion}`)
      .sort();
    const expected = truth.map((t) => `${t.name} ${t.version} ${t.source} ${t.sourceVersion}`).sort();
    assert.ok(expected.length > 50, `dpkg-query found ${expected.length} packages`);
    assert.deepEqual(ours, expected);
    for (const p of result.packages) {
      assert.equal(p.release, 'Debian:12');
      // The source package as syft writes it: its name when it differs, with its version when that differs too.
      const upstream =
        p.sourceName === p.name && p.sourceVersion === p.version
          ? ''
          : `&upstream=${encodeURIComponent(p.sourceVersion === p.version ? p.sourceName! : `${p.sourceName}@${p.sourceVersion}`).replace(/%3A/gi, ':')}`;
      assert.equal(p.purl.slice(p.purl.indexOf('&distro=')), `&distro=debian-12${upstream}`);
      assert.match(p.purl, /^pkg:deb\/debian\/[^@]+@[^?]+\?arch=[a-z0-9]+&distro=debian-12(&upstream=[^&]+)?$/);
      assert.match(p.layer, /^sha256:/);
    }
  });

  void it('finds exactly the fixture advisories that apply, by source package, with dpkg-ordered fixed versions', () => {
    const expected = truth.filter((t) => UNFIXED_BY_SOURCE[t.source]).map((t) => `${UNFIXED_BY_SOURCE[t.source]} ${t.name}`);
    // DSA-5514-1 fixed glibc in 2.36-9+deb12u3: it applies only if dpkg itself orders the installed glibc below that.
    for (const t of truth.filter((x) => x.source === 'glibc')) {
      if (spawnSync('dpkg', ['--compare-versions', t.sourceVersion, 'lt', '2.36-9+deb12u3']).status === 0) expected.push(`DSA-5514-1 ${t.name}`);
    }
    const ours = result.findings.map((f) => `${f.id} ${f.package.name}`);
    assert.deepEqual(ours.sort(), expected.sort());
    assert.ok(result.findings.every((f) => !f.fixable && f.severity === 'UNKNOWN'));
  });

  void it('keeps a CycloneDX 1.6 SBOM that rescans to the same findings without the registry', async () => {
    assert.equal(result.sbom.specVersion, '1.6');
    assert.equal(result.sbom.components.length, result.packages.length);
    const again = await rescanStored({ osv: scanner.osv, sbomStore: scanner.sbomStore }, result.summary.digest);
    assert.deepEqual(again?.findings, result.findings);
    assert.deepEqual(again?.packages, result.packages);
  });

  void it('lists exactly the setuid/setgid regular files the tar holds (find -perm /6000 -type f)', () => {
    // GNU tar's verbose listing: type char then rwx triplets with s/S where setuid/setgid is set.
    const listing = execFileSync('tar', ['-tvf', (rootfs as { tar: string }).tar], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const expected = listing
      .split('\n')
      .filter((l) => /^[-h]..[sS]|^[-h].....[sS]/.test(l))
      .map((l) => `/${l.split(/\s+/)[5]!.replace(/^\.\//, '')}`)
      .sort();
    assert.ok(expected.length > 3);
    assert.deepEqual([...result.summary.hygiene.setuidFiles].sort(), expected);
    assert.ok(result.summary.hygiene.shells.includes('/usr/bin/bash'));
    assert.equal(result.summary.hygiene.runsAsRoot, true);
  });
});
