import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
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
  const dchain = (...args: string[]) => run(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/dchain.ts'), 'scan', ...args], { cwd: ROOT, timeout: 60_000 });

  before(async () => {
    const registry = await useRegistry();
    const layout = join(testDataDir(), 'layout');
    const lock = JSON.stringify({ lockfileVersion: 1, dependencies: { lodash: { version: '4.17.15' } } });
    await writeOciImage(layout, busyboxSpec({ extra: [{ path: 'srv', type: 'directory' }, { path: 'srv/package-lock.json', content: lock }] }), 'v1');
    ref = `${registry.host}/cli-app:v1`;
    await pushImage(layout, 'v1', ref);
  });

  void it('prints JSON with findings, packages and hygiene', async () => {
    const { stdout } = await dchain(ref, '--format', 'json', '--osv-dir', OSV_FIXTURES);
    const out = JSON.parse(stdout) as { findings: { id: string }[]; packages: { purl: string }[]; hygiene: { runsAsRoot: boolean } };
    assert.deepEqual(out.findings.map((f) => f.id).sort(), ['GHSA-29mw-wpgm-hmr9', 'GHSA-35jh-r3h4-6jhm', 'GHSA-p6mc-m468-83gw']);
    assert.deepEqual(out.packages.map((p) => p.purl), ['pkg:npm/lodash@4.17.15']);
    assert.equal(out.hygiene.runsAsRoot, true);
  });

  void it('prints CycloneDX 1.6 and SARIF 2.1.0', async () => {
    const bom = JSON.parse((await dchain(ref, '--format', 'cyclonedx', '--osv-dir', OSV_FIXTURES)).stdout) as { specVersion: string; metadata: { component: { type: string } } };
    assert.equal(bom.specVersion, '1.6');
    assert.equal(bom.metadata.component.type, 'container');
    const sarif = JSON.parse((await dchain(ref, '--format', 'sarif', '--osv-dir', OSV_FIXTURES)).stdout) as { version: string; runs: { results: { ruleId: string; level: string }[] }[] };
    assert.equal(sarif.version, '2.1.0');
    assert.equal(sarif.runs[0]!.results.length, 3);
  });

  void it('prints a readable table with findings and hygiene issues', async () => {
    const { stdout } = await dchain(ref, '--format', 'table', '--osv-dir', OSV_FIXTURES);
    assert.match(stdout, /Vulnerabilities: CRITICAL 0, HIGH 2, MEDIUM 1, LOW 0, UNKNOWN 0 \(fixable: 3\)/);
    assert.match(stdout, /GHSA-p6mc-m468-83gw.*lodash.*4\.17\.15.*4\.17\.19/);
    assert.match(stdout, /! root-user: USER is not set/);
  });

  void it('explains a bad format and a missing image', async () => {
    await assert.rejects(dchain(ref, '--format', 'xml'), (e: { stderr: string }) => /unknown --format "xml"/.test(e.stderr));
    await assert.rejects(dchain(ref.replace(':v1', ':nope'), '--osv-dir', OSV_FIXTURES), (e: { stderr: string }) => /NOT_FOUND|not found/i.test(e.stderr));
  });
});
