/** Normalisation of tar entry paths into absolute image paths, refusing anything that escapes the root. */
import { posix } from 'node:path';

/** A relative path that needs the segment walk: empty, '.' or '..' segments, doubled or edge slashes. */
const IRREGULAR = /^\/|\/$|\/\/|(?:^|\/)\.\.?(?:\/|$)/;

/**
 * '/usr/bin/x', './usr/bin/x' and 'usr//bin/./x' all become '/usr/bin/x'. Returns undefined for
 * paths that climb above the root ('../etc/passwd', 'a/../../x'): such entries are never applied.
 */
export function normalizeEntryPath(name: string): string | undefined {
  // Fast path for what layers hold (hundreds of thousands of 'usr/bin/x' or './usr/bin/x' names): one test, no split.
  const relative = name.startsWith('./') ? name.slice(2) : name;
  if (relative !== '' && !IRREGULAR.test(relative) && !relative.includes('\u0000')) return `/${relative}`;
  if (name.includes('\u0000')) return undefined;
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return `/${parts.join('/')}`;
}

export const parentOf = (path: string): string => posix.dirname(path);
export const baseName = (path: string): string => posix.basename(path);

/** Like a kernel inside a chroot: '..' at the root stays at the root. For symlink targets. */
export const normalizeWithinRoot = (path: string): string => posix.resolve('/', path);
