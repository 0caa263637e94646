import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { buildSnapshot } from '../../../scripts/build-snapshot';
import { busyboxSpec, writeOciImage } from '../../support/images';
import { onCleanup, testDataDir } from '../../support/services';
import { OSV_FIXTURES } from './scan-support';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../../..');

/** What differs between two runs of the same scan: the clock. */
const timeless = (out: string) => out.replace(/"(scannedAt|importedAt|ageSeconds)": ("[^"]*"|\d+)/g, '"$1": "…"');

/**
 * bin/dchain-compiled in a copy of the layout it expects (bin/, dist/cli/), with the snapshot built from the sources
 * and, as dist/cli/dchain.js, the plain path: bin/dchain.js's entry (the build when current, else the source).
 * The copy lives inside the project so that packages resolve from its node_modules, as from dist/.
 */
void describe('bin/dchain-compiled (the startup snapshot)', () => {
  mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
  const home = mkdtempSync(join(ROOT, 'test-artifacts', 'snapshot-'));
  onCleanup(() => rmSync(home, { recursive: true, force: true }));
  const cli = join(home, 'dist', 'cli');
  const blob = join(cli, 'dchain.blob');
  const launcher = join(home, 'bin', 'dchain-compiled');
  const osvDir = join(testDataDir(), 'osv');
  cpSync(OSV_FIXTURES, osvDir, { recursive: true });
  const layout = join(testDataDir(), 'layout');
  const image = `oci:${layout}:v1`;

  const runs = (file: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    run(file, args, { env: { ...process.env, NODE_OPTIONS: '', ...env }, timeout: 60_000 }).then((r) => r.stdout);
  const viaLauncher = (args: string[], env?: NodeJS.ProcessEnv) => runs(launcher, args, env);
  const plain = (args: string[]) => runs(process.execPath, [join(cli, 'dchain.js'), ...args]);
  /** Run by the launcher, the plain path exits 99: a command that succeeds ran from the snapshot. */
  const snapshotOnly = { PLAIN_PATH_FORBIDDEN: '1' };

  before(async () => {
    mkdirSync(join(home, 'bin'), { recursive: true });
    mkdirSync(cli, { recursive: true });
    copyFileSync(join(ROOT, 'bin', 'dchain-compiled'), launcher);
    writeFileSync(
      join(cli, 'dchain.js'),
      `if (process.env.PLAIN_PATH_FORBIDDEN === '1') { process.stderr.write('plain path\\n'); process.exit(99); }
module.exports = require(${JSON.stringify(join(ROOT, 'bin', 'launch.js'))}).load('cli/dchain');
if (require.main === module) void module.exports.main();
`,
    );
    assert.equal(await buildSnapshot(cli), true);
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
  });

  void it('scans from the snapshot with the output of the plain path, in JSON and as a table', async () => {
    for (const format of ['json', 'table']) {
      const args = ['scan', image, '--format', format, '--no-progress', '--osv-dir', osvDir];
      const [fromSnapshot, fromPlain] = await Promise.all([viaLauncher(args, snapshotOnly), plain(args)]);
      assert.match(fromPlain, /GHSA-p6mc-m468-83gw/);
      assert.equal(timeless(fromSnapshot), timeless(fromPlain), format);
    }
  });

  void it('runs any other command through dist/cli/dchain.js from the snapshot', async () => {
    const [fromSnapshot, fromPlain] = await Promise.all([
      viaLauncher(['status', '--help'], snapshotOnly).catch((e: Error) => e.message),
      plain(['status', '--help']),
    ]);
    // The snapshot loads dist/cli/dchain.js for it, which here refuses: the launcher did start from the snapshot.
    assert.match(fromSnapshot, /plain path/);
    assert.match(fromPlain, /Usage: dchain status/);
    assert.equal(await viaLauncher(['status', '--help']), fromPlain);
  });

  void it('runs the plain path when NODE_OPTIONS is set, the blob is from another node, or there is none', async () => {
    const args = ['scan', image, '--format', 'json', '--no-progress', '--osv-dir', osvDir];
    const expected = timeless(await plain(args));
    // V8 refuses a blob used with other V8 flags (exit 14): the launcher must not pass it.
    assert.equal(timeless(await viaLauncher(args, { NODE_OPTIONS: '--max-old-space-size=300' })), expected);
    // A blob from another node: never started (this one is not even a blob).
    writeFileSync(`${blob}.node`, 'v0.0.0\n');
    writeFileSync(blob, 'not a snapshot');
    assert.equal(timeless(await viaLauncher(args)), expected);
    rmSync(blob);
    rmSync(`${blob}.node`);
    assert.equal(timeless(await viaLauncher(args)), expected);
  });
});
