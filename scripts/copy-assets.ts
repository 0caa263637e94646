// Copies what tsc does not emit into dist/: the Lua scripts next to the modules that load them.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '..');

function walk(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.lua')) cpSync(path, join(root, 'dist', relative(root, path)));
  }
}

walk(join(root, 'src'));
