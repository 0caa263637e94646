/**
 * Our CycloneDX SBOM, read by the real osv-scanner: it finds the same Debian advisories we do. Debian's
 * advisories name source packages (util-linux, glibc), not the binaries an image lists (bsdutils,
 * libc6); the SBOM carries the source package in each purl (`upstream=`, as syft writes it) and as a
 * nested component with a purl of its own, which is what osv-scanner matches.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { findTool } from '../../../workers/local/tools';
import { type ScanResult } from '../../../src/scan';
import { pushImage } from '../../support/images';
import { testDataDir, useRegistry } from '../../support/services';
import { debianRootfsTar, ociLayoutFromTar } from './rootfs-image';
import { OSV_FIXTURES, scannerFor } from './scan-support';

const run = promisify(execFile);
const rootfs = debianRootfsTar('bookworm');
const osvScanner = findTool('osv-scanner');
const skip = 'skip' in rootfs ? rootfs.skip : osvScanner ? false : 'osv-scanner is not installed (npm run setup -- --test)';

void describe('osv-scanner reads our CycloneDX SBOM', { skip }, () => {
  let result: ScanResult;
  let bomFile: string;
  let dbDir: string;

  before(async () => {
    const work = testDataDir();
    const registry = await useRegistry();
    await ociLayoutFromTar((rootfs as { tar: string }).tar, join(work, 'layout'), 'bookworm');
    await pushImage(join(work, 'layout'), 'bookworm', `${registry.host}/debian:bookworm`);
    result = await scannerFor(registry.url).scan('debian', 'bookworm');
    bomFile = join(work, 'bom.cdx.json');
    writeFileSync(bomFile, JSON.stringify(result.sbom));
    // osv-scanner's offline database, the same records we matched: <dir>/<osv-scanner (2.0) | osv-scalibr (2.5+)>/<Ecosystem>/all.zip.
    dbDir = join(work, 'osv-db');
    for (const layout of ['osv-scanner', 'osv-scalibr']) {
      mkdirSync(join(dbDir, layout, 'Debian'), { recursive: true });
      execFileSync('python3', [
        '-c',
        'import sys,zipfile,glob,os\nz=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED)\nfor f in sorted(glob.glob(sys.argv[2]+"/*.json")): z.write(f, os.path.basename(f))\nz.close()',
        join(dbDir, layout, 'Debian', 'all.zip'),
        join(OSV_FIXTURES, 'debian'),
      ]);
    }
  });

  void it('finds the same Debian source-keyed advisories, by source package', async () => {
    const ours = new Set(
      result.findings.filter((f) => f.package.ecosystem === 'Debian').flatMap((f) => f.ids.map((id) => `${f.package.sourceName ?? f.package.name} ${id}`)),
    );
    assert.ok(
      [...ours].some((k) => k.startsWith('util-linux ')),
      'the image has source-keyed findings (util-linux via bsdutils, mount, …)',
    );
    const out = await run(osvScanner!, ['scan', 'source', '--offline-vulnerabilities', '--format', 'json', '-L', bomFile], {
      env: { ...process.env, OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY: dbDir },
      maxBuffer: 64 * 1024 * 1024,
    }).catch((e: { code?: number; stdout?: string; stderr?: string }) => {
      // osv-scanner exits 1 when it found vulnerabilities.
      if (e.code === 1 && e.stdout) return { stdout: e.stdout };
      throw new Error(`osv-scanner failed (${e.code}): ${e.stderr}`);
    });
    const doc = JSON.parse(out.stdout) as {
      results?: Array<{ packages?: Array<{ package: { name: string; ecosystem: string }; vulnerabilities?: Array<{ id: string }> }> }>;
    };
    const theirs = new Set(
      (doc.results ?? []).flatMap((r) =>
        (r.packages ?? [])
          .filter((p) => p.package.ecosystem.startsWith('Debian'))
          .flatMap((p) => (p.vulnerabilities ?? []).map((v) => `${p.package.name} ${v.id}`)),
      ),
    );
    assert.deepEqual([...theirs].sort(), [...ours].sort());
  });
});
