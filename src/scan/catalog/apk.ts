/** Alpine packages from /lib/apk/db/installed (P: name, V: version, o: origin, A: arch, L: license). */
import { type Package } from '../types';
import { osvRelease } from './os-release';
import { apkPurl } from './purl';
import { type Cataloger } from './types';

const DB = '/lib/apk/db/installed';

function parseApkDb(text: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  let current: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (current.P) out.push(current);
      current = {};
      continue;
    }
    const key = line[0]!;
    // Only the first occurrence of a field counts; file lists (F:/R:) repeat.
    if (line[1] === ':' && current[key] === undefined) current[key] = line.slice(2);
  }
  if (current.P) out.push(current);
  return out;
}

export const apkCataloger: Cataloger = {
  name: 'apk',
  policy: { keep: (path) => path === DB, inspectors: [] },
  catalog(ctx) {
    const node = ctx.tree.resolve(DB);
    if (!node?.content) return [];
    const release = osvRelease(ctx.os);
    const distro = ctx.os?.versionId ? `alpine-${ctx.os.versionId}` : undefined;
    return parseApkDb(node.content.toString('utf8'))
      .filter((p) => p.V)
      .map((p): Package => ({
        name: p.P!,
        version: p.V!,
        ecosystem: 'Alpine',
        purl: apkPurl(p.P!, p.V!, p.A, distro),
        layer: node.layer,
        location: DB,
        sourceName: p.o ?? p.P!,
        sourceVersion: p.V!,
        ...(release ? { release } : {}),
        ...(p.L ? { licenses: [p.L] } : {}),
      }));
  },
};
