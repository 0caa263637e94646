import { accessSync, constants } from 'node:fs';
import { basename, delimiter, dirname, join, resolve } from 'node:path';

const HERE = resolve(__dirname, '..', '..');
/** Project-local tools (Temporal CLI, cosign, …) installed by scripts/setup.ts; the same root when run from the compiled dist/. */
export const PROJECT_ROOT = basename(HERE) === 'dist' ? dirname(HERE) : HERE;
export const TOOLS_BIN = join(PROJECT_ROOT, '.tools', 'bin');

/** Absolute path of an executable: the project's tools folder first, then PATH (and /usr/sbin). */
export function findTool(name: string): string | undefined {
  const dirs = [TOOLS_BIN, ...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function requireTool(name: string, hint: string): string {
  const path = findTool(name);
  if (!path) throw new Error(`${name} is not installed (${hint}); run \`npm run setup\``);
  return path;
}
