/** What the CLI's bundles (scripts/bundle-cli.ts) and its startup snapshot (scripts/build-snapshot.ts) share. */
import { dirname, join } from 'node:path';
import { type Plugin } from 'esbuild';

/**
 * Packages inlined into the bundles: pure JavaScript, no files read beside their modules, used on a command's common
 * path. Those a command loads only for some inputs (undici for a registry, yaml for a YAML file, cli-table3 for a
 * table) stay in node_modules: inlined, every run would parse them.
 */
export const INLINED = new Set([
  'zod',
  'commander',
  'ae-cvss-calculator',
  'semver',
  'p-limit',
  'yocto-queue',
  'fzstd',
  'tar-stream',
  'streamx',
  'b4a',
  'fast-fifo',
  'text-decoder',
  'events-universal',
  'queue-tick',
  '@renovatebot/pep440',
  'picomatch',
  'yauzl',
  'buffer-crc32',
  'pend',
]);

export const packageName = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);

/**
 * zod's namespaces re-export every locale (`z.locales`, `z.core.locales`: 40 languages, a third of zod in a bundle) and
 * nothing of ours reads them: the bundles keep English, the one zod itself configures.
 */
export const englishZod: Plugin = {
  name: 'zod-english',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic[\\/]external|core[\\/]index)\.js$/.test(args.importer) ? { path: args.importer, namespace: 'zod-locales' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), '../locales/en.js'))};`,
      resolveDir: dirname(args.path),
    }));
  },
};
