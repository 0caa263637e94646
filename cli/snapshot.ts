/**
 * The entry point of the CLI's V8 startup snapshot (scripts/build-snapshot.ts bundles it and has node write
 * dist/cli/dchain.blob; bin/dchain-compiled starts node from that blob). Node 20 has no compile cache, and a scan's
 * start-up beyond node's own went to loading and running the scan bundle (its zod schemas, commander, the builtins it
 * requires); in the snapshot that work is done once, at build time, and each run deserializes its result.
 *
 * Only the scan command runs from the snapshot's heap. Any other command loads dist/cli/dchain.js at run time, as
 * `node dist/cli/dchain.js` would: their modules are not in the snapshot and a group list built for it would only
 * grow the blob every command pays to deserialize.
 *
 * While the snapshot is built only node's built-in modules can be required (the bundle's `require` is replaced by
 * the banner scripts/build-snapshot.ts adds); a package left in node_modules (undici, yaml, sql.js, …) is required
 * at run time, relative to the blob's directory, through the function stored here under SNAPSHOT_REQUIRE.
 */
import 'commander';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { startupSnapshot } from 'node:v8';
import { parseConfig } from '../src/config';
import { ChainError } from '../src/errors';
import { warmOsvRecordSchema } from '../src/scan/image-scan';
import { DEFERRED_EXTRA_CA_CERTS } from '../src/security/deferred-ca';
import * as scan from './commands/scan';
import { commandWord, main, preloadGroup } from './dchain';

/** Where the bundle's `require` finds packages at run time (the banner in scripts/build-snapshot.ts reads it). */
const SNAPSHOT_REQUIRE = Symbol.for('dchain.snapshot.require');

/** The directory of the blob node was started from (`--snapshot-blob <file>` or `--snapshot-blob=<file>`). */
function blobDir(execArgv: string[]): string {
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const file = arg === '--snapshot-blob' ? execArgv[i + 1] : arg.startsWith('--snapshot-blob=') ? arg.slice('--snapshot-blob='.length) : undefined;
    if (file) return resolve(file, '..');
  }
  throw new ChainError('INTERNAL', 'started from a startup snapshot without --snapshot-blob');
}

preloadGroup('scan', scan);

/**
 * The configuration's schemas, built and run once on the defaults a scan without a file reads: building a section's
 * schema and zod's first parse with it (which generates the parser it keeps) took 25-30 ms of every scan's start-up.
 * Only the schemas stay (each section builds its own once); the configuration parsed here is dropped, and each run
 * reads its file and environment as before.
 */
const warm = parseConfig({});
for (const key of ['registries', 'sources', 'sync', 'scan'] as const) void warm[key];
warmOsvRecordSchema();

startupSnapshot.setDeserializeMainFunction(() => {
  const dir = blobDir(process.execArgv);
  const entry = join(dir, 'dchain.js');
  const runtimeRequire = createRequire(entry);
  (globalThis as Record<symbol, unknown>)[SNAPSHOT_REQUIRE] = runtimeRequire;
  // bin/dchain-compiled deferred NODE_EXTRA_CA_CERTS (src/security/deferred-ca.ts): processes this one starts get it.
  const deferred = process.env[DEFERRED_EXTRA_CA_CERTS];
  if (deferred && process.env.NODE_EXTRA_CA_CERTS === undefined) process.env.NODE_EXTRA_CA_CERTS = deferred;
  // A snapshot's process.argv has no script; the command line reads as if dist/cli/dchain.js had been run.
  process.argv = [process.execPath, entry, ...process.argv.slice(1)];
  if (commandWord(process.argv.slice(2)) === 'scan') void main(process.argv);
  else void (runtimeRequire(entry) as { main(argv: string[]): Promise<void> }).main(process.argv);
});
