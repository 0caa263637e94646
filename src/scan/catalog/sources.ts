/**
 * Where the image says its packages come from (for the policy's trustedSources rule):
 * apt sources (one-line `sources.list` / `*.list` and deb822 `*.sources`, disabled stanzas and
 * comments skipped), apk repositories, npm lockfile `resolved` URLs (v1 `dependencies` and v2/v3
 * `packages`) and pip `direct_url.json` (PEP 610: a distribution installed from a URL, archive or VCS).
 * dpkg and apk do not record which repository each installed package came from, so those are the
 * image's configured repositories; npm and pip are per package.
 */
import { z } from 'zod';
import { byCodeUnits } from '../code-unit-order';
import { type FileTree } from '../fs/tree';
import { type CapturePolicy } from '../layers/capture';
import { type PackageSource } from '../sources';

const APT_LIST = /^\/etc\/apt\/sources\.list(\.d\/[^/]+\.list)?$/;
const APT_DEB822 = /^\/etc\/apt\/sources\.list\.d\/[^/]+\.sources$/;
const APK_REPOSITORIES = '/etc/apk/repositories';
const LOCKFILE = /\/package-lock\.json$/;
const DIRECT_URL = /\.dist-info\/direct_url\.json$/;
const DIST_INFO = /\/([^/]+)-([^/-]+)\.dist-info\/direct_url\.json$/;
const MAX_SOURCE_FILE = 1024 * 1024;

export const sourcesPolicy: CapturePolicy = {
  keep: (path, size) => size <= MAX_SOURCE_FILE && (APT_LIST.test(path) || APT_DEB822.test(path) || path === APK_REPOSITORIES || DIRECT_URL.test(path)),
  inspectors: [],
};

/** `deb [arch=amd64 signed-by=…] http://deb.debian.org/debian bookworm main` → the URI. */
export function aptListUris(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!/^deb(-src)?\s/.test(line)) continue;
    const rest = line.replace(/^deb(-src)?\s+/, '').replace(/^\[[^\]]*\]\s*/, '');
    const uri = rest.split(/\s+/)[0];
    if (uri) out.push(uri);
  }
  return out;
}

/** deb822 stanzas: `URIs:` of every stanza not `Enabled: no` (fields may continue on indented lines). */
export function aptDeb822Uris(text: string): string[] {
  const out: string[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#')) continue;
      if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)} ${line.trim()}`);
      else {
        const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
        if (m) fields.set((last = m[1]!.toLowerCase()), m[2]!.trim());
      }
    }
    if ((fields.get('enabled') ?? 'yes').toLowerCase() === 'no' || !fields.get('uris')) continue;
    out.push(...fields.get('uris')!.split(/\s+/).filter(Boolean));
  }
  return out;
}

/** /etc/apk/repositories: one repository a line, optionally tagged (`@edge https://…`). */
export function apkRepositories(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean)
    .map((l) => l.replace(/^@\S+\s+/, ''));
}

const lockfile = z.looseObject({
  packages: z
    .record(
      z.string(),
      z.looseObject({ version: z.string().optional(), name: z.string().optional(), resolved: z.string().optional(), link: z.boolean().optional() }),
    )
    .optional(),
  dependencies: z.record(z.string(), z.unknown()).optional(),
});
const lockV1Dep = z.looseObject({
  version: z.string().optional(),
  resolved: z.string().optional(),
  dependencies: z.record(z.string(), z.unknown()).optional(),
});

/** Nesting the npm cataloger also stops at: a crafted lockfile cannot exhaust the stack or the time. */
const MAX_V1_DEPTH = 128;

/** The `resolved` URLs of a v1 lockfile's nested `dependencies`, walked without recursion. */
function v1Resolved(deps: Record<string, unknown>): [string, string | undefined, string][] {
  const out: [string, string | undefined, string][] = [];
  const stack: { deps: Record<string, unknown>; depth: number }[] = [{ deps, depth: 0 }];
  while (stack.length > 0) {
    const { deps: level, depth } = stack.pop()!;
    for (const [name, raw] of Object.entries(level)) {
      const dep = lockV1Dep.safeParse(raw);
      if (!dep.success) continue;
      if (dep.data.resolved) out.push([name, dep.data.version, dep.data.resolved]);
      if (dep.data.dependencies && depth + 1 < MAX_V1_DEPTH) stack.push({ deps: dep.data.dependencies, depth: depth + 1 });
    }
  }
  return out;
}

const directUrl = z.looseObject({ url: z.string().min(1) });

function json(content: Buffer): unknown {
  try {
    return JSON.parse(content.toString('utf8'));
  } catch {
    return undefined;
  }
}

export function catalogSources(tree: FileTree): PackageSource[] {
  const out: PackageSource[] = [];
  for (const node of tree.files()) {
    if (node.type !== 'file' || !node.content) continue;
    const { path } = node;
    if (APT_LIST.test(path)) out.push(...aptListUris(node.content.toString('utf8')).map((url) => ({ ecosystem: 'apt' as const, url, location: path })));
    else if (APT_DEB822.test(path))
      out.push(...aptDeb822Uris(node.content.toString('utf8')).map((url) => ({ ecosystem: 'apt' as const, url, location: path })));
    else if (path === APK_REPOSITORIES)
      out.push(...apkRepositories(node.content.toString('utf8')).map((url) => ({ ecosystem: 'apk' as const, url, location: path })));
    else if (LOCKFILE.test(path) && !path.includes('/node_modules/')) {
      const parsed = lockfile.safeParse(json(node.content));
      if (!parsed.success) continue;
      const entries: [string, string | undefined, string][] = [];
      if (parsed.data.packages) {
        for (const [key, p] of Object.entries(parsed.data.packages)) {
          // Links point into the project itself; "" is the project.
          if (key === '' || p.link || !p.resolved) continue;
          entries.push([p.name ?? key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length), p.version, p.resolved]);
        }
      } else if (parsed.data.dependencies) entries.push(...v1Resolved(parsed.data.dependencies));
      for (const [name, version, url] of entries) out.push({ ecosystem: 'npm', url, location: path, package: name, ...(version ? { version } : {}) });
    } else if (DIRECT_URL.test(path)) {
      const parsed = directUrl.safeParse(json(node.content));
      if (!parsed.success) continue;
      const m = DIST_INFO.exec(path);
      out.push({ ecosystem: 'pypi', url: parsed.data.url, location: path, ...(m ? { package: m[1]!, version: m[2]! } : {}) });
    }
  }
  return out.sort(
    (a, b) =>
      byCodeUnits(a.ecosystem, b.ecosystem) ||
      byCodeUnits(a.location, b.location) ||
      byCodeUnits(a.package ?? '', b.package ?? '') ||
      byCodeUnits(a.url, b.url),
  );
}
