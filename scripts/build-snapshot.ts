/**
 * Builds the CLI's V8 startup snapshot (cli/snapshot.ts) into a directory, `npm run build` into dist/cli:
 * - snapshot-bundle.js: cli/snapshot.ts bundled whole (our modules, src/errors included, and the inlined packages), since
 *   node builds a snapshot from one script that can require only node's built-in modules;
 * - dchain.blob: what node wrote after running it (`--build-snapshot`);
 * - dchain.blob.node: the `node --version` that wrote it. V8 refuses a blob from another node (exit 14, before any
 *   of our code runs), so bin/dchain-compiled compares this with the node it would start and otherwise runs
 *   dist/cli/dchain.js.
 * A snapshot that cannot be built leaves none of the three: the build says so and the CLI runs as without it.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { englishZod, INLINED, packageName } from './cli-bundling';

const root = join(__dirname, '..');

/**
 * The bundle's `require`: node's own for built-in modules; for a package (undici, yaml, …) the run-time require
 * cli/snapshot.ts stores once the blob's directory is known. Before that (while the snapshot is built) a package
 * cannot be loaded, and the build stops naming it rather than snapshotting a half-loaded module.
 * `module` stands in for the CommonJS module a snapshot script has not, for cli/dchain.ts's `require.main === module`.
 */
const BANNER = `var require = ((builtin) => {
  const { isBuiltin } = builtin('node:module');
  return (id) => {
    if (isBuiltin(id)) return builtin(id);
    const runtime = globalThis[Symbol.for('dchain.snapshot.require')];
    if (!runtime) throw new Error(id + ': a package cannot be loaded while the startup snapshot is built');
    return runtime(id);
  };
})(require);
var module = {};`;

/** Builds snapshot-bundle.js, dchain.blob and dchain.blob.node in `outDir`; false (and a message on stderr) when it could not. */
export async function buildSnapshot(outDir: string): Promise<boolean> {
  const script = join(outDir, 'snapshot-bundle.js');
  const blob = join(outDir, 'dchain.blob');
  for (const f of [script, blob, `${blob}.node`]) rmSync(f, { force: true });
  try {
    await build({
      absWorkingDir: root,
      entryPoints: ['cli/snapshot.ts'],
      outfile: script,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      mainFields: ['module', 'main'],
      keepNames: true,
      logLevel: 'warning',
      banner: { js: BANNER },
      plugins: [
        {
          name: 'dchain-snapshot',
          setup(b) {
            b.onResolve({ filter: /.*/ }, (args) => {
              const spec = args.path;
              if (args.kind === 'entry-point' || spec.startsWith('.') || spec.startsWith('/')) {
                // The other command groups: never loaded from the snapshot (cli/snapshot.ts runs dist/cli/dchain.js for them).
                if (spec.startsWith('./commands/') && spec !== './commands/scan' && args.importer.endsWith(join('cli', 'dchain.ts')))
                  return { path: `${spec}.js`, external: true };
                return undefined;
              }
              if (spec.startsWith('node:') || !INLINED.has(packageName(spec))) return { path: spec, external: true };
              return undefined;
            });
          },
        },
        englishZod,
      ],
    });
    // The node running this build is the one `npm run build` was started with, the one the CLI is run by.
    execFileSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', script], { cwd: outDir, stdio: 'pipe' });
    writeFileSync(`${blob}.node`, `${process.version}\n`);
    return true;
  } catch (err) {
    for (const f of [script, blob, `${blob}.node`]) rmSync(f, { force: true });
    const e = err as { stderr?: Buffer; message?: string };
    const why = (e.stderr?.toString().trim() || e.message || String(err))
      .split('\n')
      .filter((l) => !l.includes('Warning'))
      .slice(-3)
      .join(' | ');
    process.stderr.write(`build-snapshot: no startup snapshot in ${relative(root, outDir) || '.'}: ${why}\n`);
    return false;
  }
}
