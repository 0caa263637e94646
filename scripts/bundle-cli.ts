/**
 * Bundles the command line after tsc (`npm run build`): dist/cli/dchain.js and each dist/cli/commands/<group>.js become
 * one file each, with our modules and the pure-JavaScript packages a command runs on inlined. Node 20 has no compile
 * cache, so every module a command loads costs a resolve, a file read and a compile at each start; a scan loaded
 * about 250 files before (zod's CommonJS build alone, with its locales, 80 ms), one bundle after, with zod
 * tree-shaken from its ES modules.
 *
 * What stays a runtime require:
 * - the group modules from dchain.js: `dchain --help` loads none of them, a command only its own;
 * - src/errors: one ChainError class for the whole process, so `instanceof` holds between the entry point and a
 *   command (dist/src/errors from tsc);
 * - packages with native parts, workers, WebAssembly files or large lazily-used graphs (Temporal, Fastify, Redis,
 *   pino, sql.js, …): loaded from node_modules as before, only by the commands that use them.
 * Modules that find files next to themselves (`__dirname`: the Redis Lua scripts) get the directory tsc emitted
 * them to, where scripts/copy-assets.ts put the files. Each command bundle gets V8's code cache beside it
 * (`<bundle>.cache`, see cli/code-cache.ts), and the scan command a V8 startup snapshot (scripts/build-snapshot.ts).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { buildSnapshot } from './build-snapshot';
import { englishZod, INLINED, packageName } from './cli-bundling';

const root = join(__dirname, '..');
const dist = join(root, 'dist');

/** The plugin for one entry point, whose output lands at `outFile`. */
function layout(outFile: string, entry: string): Plugin {
  const outDir = dirname(outFile);
  const fromOut = (target: string) => {
    const rel = relative(outDir, target).split('\\').join('/');
    return rel.startsWith('.') ? rel : `./${rel}`;
  };
  return {
    name: 'dchain-layout',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return undefined;
        const spec = args.path;
        if (spec.startsWith('node:')) return { path: spec, external: true };
        if (!spec.startsWith('.') && !spec.startsWith('/')) return INLINED.has(packageName(spec)) ? undefined : { path: spec, external: true };
        const target = join(args.resolveDir, spec);
        // The entry point's groups stay separate files (see above).
        if (entry === 'cli/dchain.ts' && dirname(target) === join(root, 'cli/commands'))
          return { path: fromOut(join(dist, 'cli/commands', `${spec.split('/').pop()}.js`)), external: true };
        if (target === join(root, 'src/errors') || target.startsWith(join(root, 'src/errors/')))
          return { path: fromOut(join(dist, 'src/errors/index.js')), external: true };
        return undefined;
      });
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes('__dirname')) return undefined;
        const emitted = join(dist, relative(root, dirname(args.path)));
        return {
          contents: source.replace(
            /\b__dirname\b/g,
            `require('node:path').join(__dirname, ${JSON.stringify(relative(outDir, emitted).split('\\').join('/'))})`,
          ),
          loader: 'ts',
        };
      });
    },
  };
}

async function main(): Promise<void> {
  const entries = [
    'cli/dchain.ts',
    ...readdirSync(join(root, 'cli/commands'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `cli/commands/${f}`),
  ];
  await Promise.all(
    entries.map((entry) => {
      const outfile = join(dist, entry.replace(/\.ts$/, '.js'));
      return build({
        absWorkingDir: root,
        entryPoints: [entry],
        outfile,
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        // zod's ES modules rather than its CommonJS build: tree-shaken, its locales left out.
        mainFields: ['module', 'main'],
        sourcemap: true,
        keepNames: true,
        logLevel: 'warning',
        plugins: [layout(outfile, entry), englishZod],
      });
    }),
  );
  writeCodeCaches(entries.filter((e) => e !== 'cli/dchain.ts').map((e) => join(dist, e.replace(/\.ts$/, '.js'))));
  await buildSnapshot(join(dist, 'cli'));
}

/**
 * Stores V8's code cache beside each command bundle (cli/code-cache.ts), each made in a process of its own that loads
 * the bundle as a command would. A bundle that cannot be loaded here gets none, and the build says so.
 */
function writeCodeCaches(files: string[]): void {
  const writer = join(dist, 'scripts/write-code-cache.js');
  for (const file of files) {
    rmSync(`${file}.cache`, { force: true });
    try {
      execFileSync(process.execPath, [writer, file], { cwd: root, stdio: 'pipe' });
    } catch (err) {
      process.stderr.write(
        `bundle-cli: no code cache for ${relative(root, file)}: ${
          String((err as { stderr?: Buffer }).stderr ?? err)
            .trim()
            .split('\n')[0]
        }\n`,
      );
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
