import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, utimesSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { busyboxSpec, pushImage, writeOciImage } from '../../support/images';
import { testDataDir, useRegistry } from '../../support/services';
import { OSV_FIXTURES } from './scan-support';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../../..');

void describe('dchain scan', () => {
  let ref: string;
  // The fixtures as a data directory written now: data age counts from when its files were written.
  const osvDir = join(testDataDir(), 'osv');
  cpSync(OSV_FIXTURES, osvDir, { recursive: true });
  const dchain = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/dchain.ts'), 'scan', ...args], { cwd: ROOT, timeout: 60_000 });

  before(async () => {
    const registry = await useRegistry();
    const layout = join(testDataDir(), 'layout');
    const lock = JSON.stringify({ lockfileVersion: 1, dependencies: { lodash: { version: '4.17.15' } } });
    await writeOciImage(
      layout,
      busyboxSpec({
        extra: [
          { path: 'srv', type: 'directory' },
          { path: 'srv/package-lock.json', content: lock },
        ],
      }),
      'v1',
    );
    ref = `${registry.host}/cli-app:v1`;
    await pushImage(layout, 'v1', ref);
  });

  void it('prints JSON with findings, packages and hygiene', async () => {
    const { stdout } = await dchain(ref, '--format', 'json', '--osv-dir', osvDir);
    const out = JSON.parse(stdout) as { findings: { id: string }[]; packages: { purl: string }[]; hygiene: { runsAsRoot: boolean } };
    assert.deepEqual(out.findings.map((f) => f.id).sort(), ['GHSA-29mw-wpgm-hmr9', 'GHSA-35jh-r3h4-6jhm', 'GHSA-p6mc-m468-83gw']);
    assert.deepEqual(
      out.packages.map((p) => p.purl),
      ['pkg:npm/lodash@4.17.15'],
    );
    assert.equal(out.hygiene.runsAsRoot, true);
  });

  void it('prints CycloneDX 1.6 and SARIF 2.1.0', async () => {
    const bom = JSON.parse((await dchain(ref, '--format', 'cyclonedx', '--osv-dir', osvDir)).stdout) as {
      specVersion: string;
      metadata: { component: { type: string } };
    };
    assert.equal(bom.specVersion, '1.6');
    assert.equal(bom.metadata.component.type, 'container');
    const sarif = JSON.parse((await dchain(ref, '--format', 'sarif', '--osv-dir', osvDir)).stdout) as {
      version: string;
      runs: { results: { ruleId: string; level: string }[] }[];
    };
    assert.equal(sarif.version, '2.1.0');
    assert.equal(sarif.runs[0]!.results.length, 3);
  });

  void it('prints a readable table with findings and hygiene issues', async () => {
    const { stdout } = await dchain(ref, '--format', 'table', '--osv-dir', osvDir);
    assert.match(stdout, /Vulnerabilities: CRITICAL 0, HIGH 2, MEDIUM 1, LOW 0, UNKNOWN 0 \(fixable: 3\)/);
    assert.match(stdout, /GHSA-p6mc-m468-83gw.*lodash.*4\.17\.15.*4\.17\.19/);
    assert.match(stdout, /! root-user: USER is not set/);
  });

  void it('exits non-zero, naming the ecosystem, when it matched against no data, no data for an ecosystem of the image, or stale data', async () => {
    const empty = join(testDataDir(), 'osv-empty');
    mkdirSync(empty);
    const exitOf = (e: unknown) => e as { code: number; stderr: string };
    await assert.rejects(dchain(ref, '--format', 'json', '--osv-dir', empty), (e: unknown) => {
      assert.equal(exitOf(e).code, 4);
      assert.match(exitOf(e).stderr, /vulnerability data: no vulnerability data loaded \(0 OSV records\)/);
      assert.match(exitOf(e).stderr, /no vulnerability data for npm .*1 package not checked/);
      return true;
    });
    const pypiOnly = join(testDataDir(), 'osv-pypi');
    cpSync(join(OSV_FIXTURES, 'pypi'), pypiOnly, { recursive: true });
    await assert.rejects(
      dchain(ref, '--format', 'json', '--osv-dir', pypiOnly),
      (e: unknown) => exitOf(e).code === 4 && /no vulnerability data for npm/.test(exitOf(e).stderr) && !/0 OSV records/.test(exitOf(e).stderr),
    );
    const stale = join(testDataDir(), 'osv-stale');
    cpSync(join(OSV_FIXTURES, 'npm'), stale, { recursive: true });
    const monthAgo = new Date(Date.now() - 30 * 86_400_000);
    for (const f of [
      'GHSA-p6mc-m468-83gw.json',
      'GHSA-29mw-wpgm-hmr9.json',
      'GHSA-35jh-r3h4-6jhm.json',
      'GHSA-jf85-cpcp-j695.json',
      'GHSA-vh95-rmgr-6w4m.json',
      'GHSA-xvch-5gv4-984h.json',
    ])
      utimesSync(join(stale, f), monthAgo, monthAgo);
    await assert.rejects(dchain(ref, '--format', 'table', '--osv-dir', stale), (e: unknown) => {
      assert.equal(exitOf(e).code, 4);
      assert.match(exitOf(e).stderr, /vulnerability data for npm is 30d old .*older than the maximum 6h/);
      return true;
    });
  });

  void it('explains a bad format and a missing image', async () => {
    await assert.rejects(dchain(ref, '--format', 'xml'), (e: { stderr: string }) => /unknown --format "xml"/.test(e.stderr));
    await assert.rejects(dchain(ref.replace(':v1', ':nope'), '--osv-dir', osvDir), (e: { stderr: string }) => /NOT_FOUND|not found/i.test(e.stderr));
  });
});
