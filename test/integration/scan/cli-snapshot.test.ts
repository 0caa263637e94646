import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { buildSnapshot } from '../../../scripts/build-snapshot';
import { busyboxSpec, pushImage, writeOciImage } from '../../support/images';
import { onCleanup, testDataDir, useRegistry } from '../../support/services';
import { createTestPki } from '../../support/tls-certs';
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

  const pki = createTestPki(join(home, 'ca'));
  const tlsRegistry = useRegistry({ name: 'tls', tls: pki.issue('registry') });

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
    await pushImage(layout, 'v1', `${(await tlsRegistry).host}/snapshot/tls:v1`);
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

  void it('defers NODE_EXTRA_CA_CERTS for a scan: node does not load it at start, the registry client trusts it on connecting', async () => {
    const missing = join(home, 'no-such-ca.crt');
    // A loopback registry outside the configuration is taken for plain HTTP: this one is configured.
    const config = join(home, 'tls-registry.json');
    writeFileSync(
      config,
      JSON.stringify({
        registries: [{ name: 'tls', url: (await tlsRegistry).url }, ...['source', 'mirror'].map((name, i) => ({ name, url: `http://127.0.0.1:${5000 + i}` }))],
      }),
    );
    const withCa = (file: string, env: NodeJS.ProcessEnv = {}) => ({
      env: { ...process.env, NODE_OPTIONS: '', NODE_EXTRA_CA_CERTS: file, DCHAIN_CONFIG: config, ...env },
      timeout: 60_000,
    });
    const outcome = (file: string, args: string[], env?: NodeJS.ProcessEnv) =>
      run(launcher, args, withCa(file, env)).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
      );
    // Node loads the file as it starts, and says so when it cannot: the plain path does, a scan through the launcher does not.
    const local = ['scan', image, '--format', 'json', '--no-progress', '--osv-dir', osvDir];
    const plainRun = await run(process.execPath, [join(cli, 'dchain.js'), ...local], withCa(missing));
    assert.match(plainRun.stderr, /Ignoring extra certs from `.*no-such-ca\.crt`/);
    const deferred = await outcome(missing, local, snapshotOnly);
    assert.equal(deferred.code, 0, deferred.stderr);
    assert.doesNotMatch(deferred.stderr, /extra certs/);
    assert.equal(timeless(deferred.stdout), timeless(plainRun.stdout));

    // A registry whose certificate only the file's CA signed: trusted through the deferred file, refused without it.
    const remote = ['scan', `${(await tlsRegistry).host}/snapshot/tls:v1`, '--format', 'json', '--no-progress', '--osv-dir', osvDir];
    const trusted = await outcome(pki.caFile, remote, snapshotOnly);
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.match(trusted.stdout, /GHSA-p6mc-m468-83gw/);
    const other = await outcome(createTestPki(join(home, 'other-ca'), 'another CA').caFile, remote);
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /certificate/i);
    // An unreadable file: node's warning, once the scan connects, and node's own roots only.
    const unreadable = await outcome(missing, remote);
    assert.notEqual(unreadable.code, 0);
    assert.match(unreadable.stderr, /Ignoring extra certs from `.*no-such-ca\.crt`/);
    assert.match(unreadable.stderr, /certificate/i);
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
