/**
 * Runs every test file under test/ with node's own test runner (one file at a time: integration
 * files start their own Temporal, Redis and registries, and the machine has two cores).
 * `npm test -- test/unit` narrows to a folder or file.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(__dirname, '..');

// test/cluster runs only when named (`npm run test:cluster`): it needs the Temporal server build (setup --cluster).
const defaultRoot = join(root, 'test');

function collect(path: string): string[] {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path)
    .filter((name) => name !== 'node_modules' && name !== 'fixtures' && !(name === 'cluster' && path === defaultRoot))
    .sort()
    .flatMap((name) => collect(join(path, name)));
}

const targets = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'));
const files = (targets.length ? targets : ['test']).flatMap((t) => collect(resolve(root, t)));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const reporter = process.env.TEST_REPORTER ?? 'spec';
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-reporter=${reporter}`, '--test-concurrency=1', ...flags, ...files.map((f) => relative(root, f))],
  { cwd: root, stdio: 'inherit', env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' } },
);
process.exit(result.status ?? 1);
