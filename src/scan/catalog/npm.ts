/**
 * npm packages: every installed node_modules/<name>/package.json, plus package-lock.json (v1–v3)
 * entries whose package is not installed in the image (lockfile-only projects).
 */
import { z } from 'zod';
import { type Package } from '../types';
import { npmPurl } from './purl';
import { type Cataloger } from './types';

const INSTALLED = /\/node_modules\/((?:@[^/]+\/)?[^/@][^/]*)\/package\.json$/;
const LOCKFILE = /\/package-lock\.json$/;

const manifest = z.looseObject({ name: z.string().min(1), version: z.string().min(1), license: z.unknown().optional() });
// One level of a v1 tree: nested levels are checked as walkV1 reaches them (no recursive schema, whose
// depth would follow the file's and overflow the stack on a crafted lockfile).
const lockV1Dep = z.looseObject({ version: z.string().optional(), dependencies: z.record(z.string(), z.unknown()).optional() });
const lockfile = z.looseObject({
  lockfileVersion: z.number().int().optional(),
  packages: z.record(z.string(), z.looseObject({ version: z.string().optional(), name: z.string().optional(), link: z.boolean().optional() })).optional(),
  dependencies: z.record(z.string(), z.unknown()).optional(),
});
/** Deeper v1 trees than npm ever writes are cut there (with a warning). */
const MAX_V1_DEPTH = 128;

function json(content: Buffer): unknown {
  try {
    return JSON.parse(content.toString('utf8'));
  } catch {
    return undefined;
  }
}

const license = (l: unknown): string[] | undefined => (typeof l === 'string' ? [l] : undefined);

/**
 * v1 `dependencies` trees, flattened to install paths relative to the lockfile's directory; entries
 * that are not objects with a string version are skipped and counted in `problems`.
 */
function walkV1(root: Record<string, unknown>, problems: { invalid: number; tooDeep: number }): [string, string, string][] {
  const out: [string, string, string][] = [];
  const stack: { deps: Record<string, unknown>; prefix: string; depth: number }[] = [{ deps: root, prefix: '', depth: 0 }];
  for (let level = stack.pop(); level; level = stack.pop()) {
    for (const [name, raw] of Object.entries(level.deps)) {
      const dep = lockV1Dep.safeParse(raw);
      if (!dep.success) {
        problems.invalid++;
        continue;
      }
      const path = `${level.prefix}node_modules/${name}`;
      if (dep.data.version) out.push([path, name, dep.data.version]);
      if (!dep.data.dependencies) continue;
      if (level.depth >= MAX_V1_DEPTH) problems.tooDeep++;
      else stack.push({ deps: dep.data.dependencies, prefix: `${path}/`, depth: level.depth + 1 });
    }
  }
  return out;
}

export const npmCataloger: Cataloger = {
  name: 'npm',
  policy: { keep: (path) => INSTALLED.test(path) || (LOCKFILE.test(path) && !path.includes('/node_modules/')), inspectors: [] },
  catalog(ctx) {
    const out: Package[] = [];
    const installedDirs = new Set<string>();
    for (const node of ctx.tree.files()) {
      if (node.type !== 'file' || !node.content || !INSTALLED.test(node.path)) continue;
      const parsed = manifest.safeParse(json(node.content));
      if (!parsed.success) continue; // nested fixture/test package.json files without name+version
      const dirName = INSTALLED.exec(node.path)![1]!;
      if (dirName !== parsed.data.name) continue; // not a package root (e.g. a package's own test fixture)
      installedDirs.add(node.path.slice(0, -'/package.json'.length));
      const licenses = license(parsed.data.license);
      out.push({
        name: parsed.data.name,
        version: parsed.data.version,
        ecosystem: 'npm',
        purl: npmPurl(parsed.data.name, parsed.data.version),
        layer: node.layer,
        location: node.path,
        ...(licenses ? { licenses } : {}),
      });
    }
    for (const node of ctx.tree.files()) {
      if (node.type !== 'file' || !node.content || !LOCKFILE.test(node.path) || node.path.includes('/node_modules/')) continue;
      const parsed = lockfile.safeParse(json(node.content));
      if (!parsed.success) continue;
      const dir = node.path.slice(0, -'package-lock.json'.length);
      const entries: [string, string, string][] = [];
      if (parsed.data.packages) {
        for (const [key, p] of Object.entries(parsed.data.packages)) {
          if (key === '' || p.link || !p.version) continue;
          const name = p.name ?? key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
          entries.push([key, name, p.version]);
        }
      } else if (parsed.data.dependencies) {
        const problems = { invalid: 0, tooDeep: 0 };
        for (const entry of walkV1(parsed.data.dependencies, problems)) entries.push(entry);
        if (problems.invalid + problems.tooDeep > 0) {
          const why = [
            problems.invalid ? `${problems.invalid} malformed entries` : '',
            problems.tooDeep ? `dependencies nested deeper than ${MAX_V1_DEPTH} levels` : '',
          ]
            .filter(Boolean)
            .join(', ');
          ctx.warn?.({ cataloger: 'npm', location: node.path, message: `lockfile entries skipped: ${why}`, skipped: problems.invalid + problems.tooDeep });
        }
      }
      for (const [rel, name, version] of entries) {
        if (installedDirs.has(`${dir}${rel}`)) continue;
        out.push({ name, version, ecosystem: 'npm', purl: npmPurl(name, version), layer: node.layer, location: node.path });
      }
    }
    return out;
  },
};
