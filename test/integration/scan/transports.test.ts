/**
 * `dchain scan` on the transports users know from skopeo, syft and Trivy: one image, written by skopeo as an
 * OCI layout, an oci-archive, a docker-archive and pushed to a registry, scans to the same packages and findings;
 * `--fail-on` exit codes; no colour unless stdout is a terminal and NO_COLOR is unset.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { before, describe, it } from 'node:test';
import { busyboxSpec, pushImage, writeOciImage } from '../../support/images';
import { testDataDir, useRegistry } from '../../support/services';
import { requireTool } from '../../../workers/local/tools';
import { OSV_FIXTURES } from './scan-support';

const run = promisify(execFile);
const ESC = '\u001b';
const ROOT = resolve(__dirname, '../../..');
const CLI = [join(ROOT, 'cli/dchain.ts')];

interface ScanJson {
  digest: string;
  counts: Record<string, number>;
  findings: { id: string; severity: string; aliases: string[]; cvssScore?: number; package: { purl: string; layer: string } }[];
  packages: { purl: string; location: string; layer: string }[];
}

const DPKG_STATUS = [
  'Package: apt\nStatus: install ok installed\nVersion: 2.6.1\nArchitecture: amd64\n',
  'Package: tar\nStatus: install ok installed\nVersion: 1.34+dfsg-1.2+deb12u1\nArchitecture: amd64\n',
  'Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u1\nArchitecture: amd64\nSource: glibc\n',
  'Package: coreutils\nStatus: install ok installed\nVersion: 9.1-1\nArchitecture: amd64\n',
].join('\n');

void describe('dchain scan transports', () => {
  const dir = testDataDir();
  const layout = join(dir, 'layout');
  const ociArchive = join(dir, 'image.oci.tar');
  const dockerArchive = join(dir, 'image.docker.tar');
  let registryRef = '';
  const dchain = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    run(process.execPath, ['--import', 'tsx', ...CLI, 'scan', ...args], {
      cwd: ROOT,
      timeout: 120_000,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, ...env },
    });
  const scanJson = async (image: string) => JSON.parse((await dchain([image, '--format', 'json', '--osv-dir', OSV_FIXTURES])).stdout) as ScanJson;

  before(async () => {
    const lock = JSON.stringify({ lockfileVersion: 1, dependencies: { lodash: { version: '4.17.15' } } });
    const spec = busyboxSpec({
      extra: [
        { path: 'etc/os-release', content: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n' },
        { path: 'var', type: 'directory' },
        { path: 'var/lib', type: 'directory' },
        { path: 'var/lib/dpkg', type: 'directory' },
        { path: 'var/lib/dpkg/status', content: DPKG_STATUS },
      ],
    });
    // A second layer: an npm app, and a whiteout that removes a file of the first.
    spec.layers.push([
      { path: 'srv', type: 'directory' },
      { path: 'srv/package-lock.json', content: lock },
      { path: 'bin/.wh.nc', content: '' },
    ]);
    await writeOciImage(layout, spec, 'v1');
    const skopeo = requireTool('skopeo', 'Debian package skopeo');
    await run(skopeo, ['copy', '--quiet', `oci:${layout}:v1`, `oci-archive:${ociArchive}:v1`], { timeout: 120_000 });
    await run(skopeo, ['copy', '--quiet', `oci:${layout}:v1`, `docker-archive:${dockerArchive}:transports/app:v1`], { timeout: 120_000 });
    const registry = await useRegistry();
    registryRef = `${registry.host}/transports/app:v1`;
    await pushImage(layout, 'v1', registryRef);
  });

  void it('finds the same packages and findings in an OCI layout, an oci-archive, a docker-archive and a registry', async () => {
    const forms = {
      registry: registryRef,
      oci: `oci:${layout}:v1`,
      'oci-archive': `oci-archive:${ociArchive}:v1`,
      'docker-archive': `docker-archive:${dockerArchive}`,
    };
    const results: Record<string, ScanJson> = {};
    for (const [name, image] of Object.entries(forms)) results[name] = await scanJson(image);
    // Layers are named by the digest of the blob as each transport stores it: compressed in a layout and a
    // registry, the uncompressed tar (its diff_id) in a docker-archive. Everything else must be identical.
    const packages = (r: ScanJson) => r.packages.map((p) => `${p.purl} ${p.location}`).sort();
    const findings = (r: ScanJson) => r.findings.map((f) => `${f.id} ${f.severity} ${f.package.purl} ${f.cvssScore ?? '-'} ${f.aliases.join(',')}`).sort();
    const reference = results.registry!;
    assert.ok(
      reference.packages.some((p) => p.purl.startsWith('pkg:deb/debian/apt@')),
      'dpkg packages catalogued',
    );
    assert.ok(
      reference.packages.some((p) => p.purl === 'pkg:npm/lodash@4.17.15'),
      'npm packages catalogued',
    );
    assert.ok(
      reference.findings.some((f) => f.package.purl === 'pkg:npm/lodash@4.17.15'),
      'npm findings matched',
    );
    assert.ok(
      reference.findings.some((f) => f.package.purl.startsWith('pkg:deb/')),
      'Debian findings matched',
    );
    for (const [name, r] of Object.entries(results)) {
      assert.deepEqual(packages(r), packages(reference), `${name}: packages`);
      assert.deepEqual(findings(r), findings(reference), `${name}: findings`);
      assert.deepEqual(r.counts, reference.counts, `${name}: counts`);
    }
    // The layout, its archive and the registry hold the same manifest; the docker-archive's is synthesised.
    assert.equal(results.oci!.digest, reference.digest);
    assert.equal(results['oci-archive']!.digest, reference.digest);
    const config = JSON.parse(
      readFileSync(
        join(layout, 'blobs', 'sha256', JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', reference.digest.slice(7)), 'utf8')).config.digest.slice(7)),
        'utf8',
      ),
    ) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual([...new Set(results['docker-archive']!.packages.map((p) => p.layer))].sort(), [...config.rootfs.diff_ids].sort());
  });

  void it('picks an image by tag and says what is there when the tag or the file is wrong', async () => {
    const byName = await scanJson(`docker-archive:${dockerArchive}:transports/app:v1`);
    assert.ok(byName.packages.length > 0);
    await assert.rejects(
      dchain([`oci:${layout}:nope`, '--osv-dir', OSV_FIXTURES]),
      (e: { stderr: string; code: number }) => e.code === 1 && /no image tagged "nope" \(tags: v1\)/.test(e.stderr),
    );
    await assert.rejects(dchain([`docker-archive:${dockerArchive}:other:v2`, '--osv-dir', OSV_FIXTURES]), (e: { stderr: string }) =>
      /has no image "other:v2" \(has: (docker\.io\/)?transports\/app:v1\)/.test(e.stderr),
    );
    await assert.rejects(dchain([`oci:${ociArchive}`, '--osv-dir', OSV_FIXTURES]), (e: { stderr: string }) =>
      /is a file; an OCI layout is a directory/.test(e.stderr),
    );
    await assert.rejects(dchain([`docker-archive:${join(dir, 'missing.tar')}`, '--osv-dir', OSV_FIXTURES]), (e: { stderr: string }) =>
      /does not exist/.test(e.stderr),
    );
    const gz = join(dir, 'image.docker.tar.gz');
    writeFileSync(gz, gzipSync(readFileSync(dockerArchive), { level: 1 }));
    await assert.rejects(dchain([`docker-archive:${gz}`, '--osv-dir', OSV_FIXTURES]), (e: { stderr: string }) => /is a compressed file/.test(e.stderr));
    // An oci-archive is not a docker-archive: the error names what is missing instead of scanning nothing.
    await assert.rejects(dchain([`docker-archive:${ociArchive}`, '--osv-dir', OSV_FIXTURES]), (e: { stderr: string }) =>
      /is not a docker-archive \(no manifest.json\)/.test(e.stderr),
    );
  });

  void it('--fail-on exits 2 for findings at or above the severity, 0 below it, and refuses an unknown severity', async () => {
    const image = `oci:${layout}:v1`;
    const { counts } = await scanJson(image);
    const order = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'];
    const highest = order.find((s) => (counts[s] ?? 0) > 0);
    assert.ok(highest, 'the image has rated findings');
    await assert.rejects(
      dchain([image, '--format', 'json', '--osv-dir', OSV_FIXTURES, '--fail-on', highest.toLowerCase()]),
      (e: { code: number; stderr: string; stdout: string }) => {
        assert.equal(e.code, 2);
        assert.match(e.stderr, new RegExp(`finding\\(s\\) at or above ${highest} \\(--fail-on\\)`));
        assert.ok(JSON.parse(e.stdout), 'the report is still written');
        return true;
      },
    );
    const above = order[order.indexOf(highest) - 1];
    if (above) await dchain([image, '--format', 'json', '--osv-dir', OSV_FIXTURES, '--fail-on', above]);
    await assert.rejects(
      dchain([image, '--fail-on', 'severe', '--osv-dir', OSV_FIXTURES]),
      (e: { code: number; stderr: string }) => e.code === 1 && /unknown --fail-on "severe"/.test(e.stderr),
    );
  });

  void it('SARIF and JSON carry severity, CVSS and aliases', async () => {
    const image = `oci-archive:${ociArchive}:v1`;
    const json = await scanJson(image);
    const sarif = JSON.parse((await dchain([image, '--format', 'sarif', '--osv-dir', OSV_FIXTURES])).stdout) as {
      runs: {
        results: { ruleId: string; properties: { severity: string; cvssScore?: number; cvssVector?: string; aliases: string[]; package: { purl: string } } }[];
      }[];
    };
    const results = sarif.runs[0]!.results;
    assert.equal(results.length, json.findings.length);
    for (const f of json.findings) {
      const r = results.find((x) => x.ruleId === f.id && x.properties.package.purl === f.package.purl);
      assert.ok(r, `${f.id} in SARIF`);
      assert.equal(r.properties.severity, f.severity);
      assert.equal(r.properties.cvssScore, f.cvssScore);
      assert.deepEqual(r.properties.aliases, f.aliases);
    }
    assert.ok(
      json.findings.some((f) => f.cvssScore !== undefined && f.aliases.length > 0),
      'fixtures with CVSS and aliases',
    );
  });

  void it('writes no ANSI codes when stdout is not a terminal or NO_COLOR is set, and colours a terminal', async () => {
    const image = `oci:${layout}:v1`;
    const piped = await dchain([image, '--format', 'table', '--osv-dir', OSV_FIXTURES]);
    assert.match(piped.stdout, /Vulnerabilities:/);
    assert.ok(!piped.stdout.includes(ESC), 'no escape codes in piped output');
    // A real terminal: script(1) runs the command on a pseudo-terminal.
    const onTty = (env: NodeJS.ProcessEnv) => {
      const command = [process.execPath, '--import', 'tsx', ...CLI, 'scan', image, '--format', 'table', '--no-progress', '--osv-dir', OSV_FIXTURES]
        .map((a) => `'${a}'`)
        .join(' ');
      const res = spawnSync('script', ['-qec', command, '/dev/null'], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, TERM: 'xterm', ...env },
      });
      assert.equal(res.status, 0, res.stderr);
      return res.stdout;
    };
    const coloured = onTty({ NO_COLOR: '' });
    assert.ok(
      ['CRITICAL', 'HIGH'].some((s) => coloured.includes(`${ESC}[31m${s}`)),
      `red severities on a terminal: ${JSON.stringify(coloured.slice(0, 400))}`,
    );
    assert.ok(!onTty({ NO_COLOR: '1' }).includes(ESC), 'no escape codes with NO_COLOR');
  });
});
