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
const lockV1Dep: z.ZodType<{ version?: string; dependencies?: Record<string, unknown> }> = z.looseObject({
  version: z.string().optional(),
  dependencies: z.lazy(() => z.record(z.string(), lockV1Dep)).optional(),
});
const lockfile = z.looseObject({
  lockfileVersion: z.number().int().optional(),
  packages: z.record(z.string(), z.looseObject({ version: z.string().optional(), name: z.string().optional(), link: z.boolean().optional() })).optional(),
  dependencies: z.record(z.string(), lockV1Dep).optional(),
});

function json(content: Buffer): unknown {
  try {
    return JSON.parse(content.toString('utf8'));
  } catch {
    return undefined;
  }
}

const license = (l: unknown): string[] | undefined => (typeof l === 'string' ? [l] : undefined);

/** v1 `dependencies` trees, flattened to install paths relative to the lockfile's directory. */
function* walkV1(deps: Record<string, { version?: string; dependencies?: Record<string, unknown> }>, prefix: string): Generator<[string, string, string]> {
  for (const [name, dep] of Object.entries(deps)) {
    const path = `${prefix}node_modules/${name}`;
    if (dep.version) yield [path, name, dep.version];
    if (dep.dependencies) yield* walkV1(dep.dependencies as Record<string, { version?: string }>, `${path}/`);
  }
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
      out.push({ name: parsed.data.name, version: parsed.data.version, ecosystem: 'npm', purl: npmPurl(parsed.data.name, parsed.data.version), layer: node.layer, location: node.path, ...(licenses ? { licenses } : {}) });
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
      } else if (parsed.data.dependencies) entries.push(...walkV1(parsed.data.dependencies, ''));
      for (const [rel, name, version] of entries) {
        if (installedDirs.has(`${dir}${rel}`)) continue;
        out.push({ name, version, ecosystem: 'npm', purl: npmPurl(name, version), layer: node.layer, location: node.path });
      }
    }
    return out;
  },
};
