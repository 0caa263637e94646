import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { before, describe, it } from 'node:test';
import { type ImageFile, pushImage, writeOciImage } from '../../support/images';
import { testDataDir, useRegistry } from '../../support/services';
import { type ScanResult } from '../../../src/scan';
import { scannerFor } from './scan-support';

/** Every file under `root` as image files placed under `prefix`. */
function imageFiles(root: string, prefix: string): ImageFile[] {
  const out: ImageFile[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      const path = `${prefix}/${relative(root, full)}`;
      const st = lstatSync(full);
      if (st.isSymbolicLink()) out.push({ path, type: 'symlink', linkname: readlinkSync(full) });
      else if (st.isDirectory()) {
        out.push({ path, type: 'directory' });
        walk(full);
      } else out.push({ path, content: readFileSync(full), mode: st.mode & 0o7777 });
    }
  };
  const parts = prefix.split('/').filter(Boolean);
  parts.forEach((_, i) => out.push({ path: parts.slice(0, i + 1).join('/'), type: 'directory' }));
  walk(root);
  return out;
}

interface NpmNode {
  version?: string;
  dependencies?: Record<string, NpmNode>;
}

function npmLsNames(tree: NpmNode): string[] {
  const out: string[] = [];
  const walk = (deps: Record<string, NpmNode> | undefined) => {
    for (const [name, node] of Object.entries(deps ?? {})) {
      if (node.version) out.push(`${name}@${node.version}`);
      walk(node.dependencies);
    }
  };
  walk(tree.dependencies);
  return out;
}

const work = testDataDir('dchain-scan-apps-');
const npmDir = join(work, 'npm-app');
const pyDir = join(work, 'site-packages');

function install(): string | undefined {
  execFileSync('mkdir', ['-p', npmDir]);
  writeFileSync(join(npmDir, 'package.json'), JSON.stringify({ name: 'old-app', version: '1.0.0', private: true }));
  const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', 'lodash@4.17.15', 'minimist@1.2.0'], {
    cwd: npmDir,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (npm.status !== 0) return `npm install from the npm registry failed: ${npm.stderr.trim().split('\n').slice(-2).join(' | ')}`;
  const pip = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-compile', '--target', pyDir, 'requests==2.19.0'], {
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (pip.status !== 0) return `pip install from PyPI failed: ${pip.stderr.trim().split('\n').slice(-2).join(' | ')}`;
  return undefined;
}

const skip = install();

void describe('npm and Python packages installed from the real registries', { skip: skip ?? false }, () => {
  let result: ScanResult;
  let layers: string[];

  before(async () => {
    const registry = await useRegistry();
    const layout = join(work, 'layout');
    await writeOciImage(layout, { layers: [imageFiles(npmDir, 'app'), imageFiles(pyDir, 'usr/local/lib/python3.11/site-packages')], user: '1000' }, 'v1');
    await pushImage(layout, 'v1', `${registry.host}/apps:v1`);
    const scanner = scannerFor(registry.url);
    result = await scanner.scan('apps', 'v1');
    const manifest = JSON.parse(
      execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/apps:v1`], { encoding: 'utf8' }),
    ) as { layers: { digest: string }[] };
    layers = manifest.layers.map((l) => l.digest);
  });

  void it('catalogues exactly what `npm ls --all --json` lists, from the npm layer', () => {
    const ls = JSON.parse(execFileSync('npm', ['ls', '--all', '--json'], { cwd: npmDir, encoding: 'utf8' })) as NpmNode;
    const expected = npmLsNames(ls).sort();
    const npm = result.packages.filter((p) => p.ecosystem === 'npm');
    assert.deepEqual(npm.map((p) => `${p.name}@${p.version}`).sort(), expected);
    assert.ok(npm.every((p) => p.layer === layers[0] && p.purl === `pkg:npm/${p.name}@${p.version}`));
  });

  void it('catalogues exactly what `pip list --path` lists, from the Python layer', () => {
    const list = JSON.parse(
      execFileSync('python3', ['-m', 'pip', 'list', '--disable-pip-version-check', '--path', pyDir, '--format', 'json'], { encoding: 'utf8' }),
    ) as { name: string; version: string }[];
    const norm = (n: string) => n.toLowerCase().replace(/[-_.]+/g, '-');
    const expected = list.map((p) => `${norm(p.name)}@${p.version}`).sort();
    const py = result.packages.filter((p) => p.ecosystem === 'PyPI');
    assert.deepEqual(py.map((p) => `${norm(p.name)}@${p.version}`).sort(), expected);
    assert.ok(py.every((p) => p.layer === layers[1]));
    assert.ok(expected.includes('urllib3@1.23') && expected.includes('idna@2.7'), `requests 2.19.0 pins urllib3<1.24 and idna<2.8: ${expected.join(', ')}`);
  });

  void it('finds exactly the fixture advisories for the installed versions', () => {
    const got = result.findings.map((f) => `${f.id} ${f.package.name.toLowerCase()}@${f.package.version} ${f.severity} fixed=${f.fixedVersion}`).sort();
    assert.deepEqual(got, [
      'GHSA-29mw-wpgm-hmr9 lodash@4.17.15 MEDIUM fixed=4.17.21',
      'GHSA-35jh-r3h4-6jhm lodash@4.17.15 HIGH fixed=4.17.21',
      'GHSA-9wx4-h78v-vm56 requests@2.19.0 MEDIUM fixed=2.32.0',
      'GHSA-j8r2-6x86-q33q requests@2.19.0 MEDIUM fixed=2.31.0',
      'GHSA-jjg7-2v4v-x38h idna@2.7 MEDIUM fixed=3.7',
      'GHSA-mh33-7rrq-662w urllib3@1.23 HIGH fixed=1.24.2',
      'GHSA-p6mc-m468-83gw lodash@4.17.15 HIGH fixed=4.17.19',
      'GHSA-v845-jxx5-vc9f urllib3@1.23 MEDIUM fixed=1.26.17',
      'GHSA-vh95-rmgr-6w4m minimist@1.2.0 MEDIUM fixed=1.2.3',
      'GHSA-www2-v7xj-xrc6 urllib3@1.23 MEDIUM fixed=1.24.3',
      'GHSA-x84v-xcm2-53pg requests@2.19.0 HIGH fixed=2.20.0',
      'GHSA-xvch-5gv4-984h minimist@1.2.0 CRITICAL fixed=1.2.6',
    ]);
    assert.deepEqual(result.summary.counts, { CRITICAL: 1, HIGH: 4, MEDIUM: 7, LOW: 0, UNKNOWN: 0 });
    assert.deepEqual(result.summary.fixable, result.summary.counts);
  });
});
