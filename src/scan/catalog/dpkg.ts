/**
 * Debian/Ubuntu packages from /var/lib/dpkg/status and the per-package files of
 * /var/lib/dpkg/status.d/ (distroless). Each package carries its source package and version,
 * and the layer that installed it (the layer of its dpkg/info/<pkg>.list file when present).
 */
import { type Package } from '../types';
import { parseControlParagraphs } from './control';
import { osvRelease } from './os-release';
import { debPurl } from './purl';
import { type CatalogContext, type Cataloger } from './types';

const STATUS = '/var/lib/dpkg/status';
const STATUS_D = '/var/lib/dpkg/status.d/';

function installed(p: Record<string, string>): boolean {
  // status.d entries of distroless images have no Status field: present means installed.
  // Status is "<want> <flag> <status>"; only fully installed packages count.
  return p.Status === undefined || p.Status.trim().split(/\s+/)[2] === 'installed';
}

function packagesFrom(ctx: CatalogContext, text: string, location: string, layer: string): Package[] {
  const os = ctx.os;
  const distro = os?.id === 'ubuntu' ? 'ubuntu' : 'debian';
  const release = osvRelease(os);
  const ecosystem = distro === 'ubuntu' ? 'Ubuntu' : 'Debian';
  const out: Package[] = [];
  for (const p of parseControlParagraphs(text)) {
    const name = p.Package;
    const version = p.Version;
    if (!name || !version || !installed(p)) continue;
    const source = /^(\S+)(?:\s+\(([^)]+)\))?/.exec(p.Source ?? '');
    const sourceName = source?.[1] ?? name;
    const sourceVersion = source?.[2] ?? version;
    const arch = p.Architecture;
    const infoNode = ctx.tree.get(`/var/lib/dpkg/info/${name}.list`) ?? (arch ? ctx.tree.get(`/var/lib/dpkg/info/${name}:${arch}.list`) : undefined);
    out.push({
      name,
      version,
      ecosystem,
      purl: debPurl(distro, name, version, arch, os?.versionId ? `${distro}-${os.versionId}` : undefined, { name: sourceName, version: sourceVersion }),
      layer: infoNode?.layer ?? layer,
      location,
      sourceName,
      sourceVersion,
      ...(release ? { release } : {}),
    });
  }
  return out;
}

export const dpkgCataloger: Cataloger = {
  name: 'dpkg',
  policy: { keep: (path) => path === STATUS || (path.startsWith(STATUS_D) && !path.endsWith('.md5sums')), inspectors: [] },
  catalog(ctx) {
    const out: Package[] = [];
    const status = ctx.tree.resolve(STATUS);
    if (status?.content) out.push(...packagesFrom(ctx, status.content.toString('utf8'), STATUS, status.layer));
    for (const node of ctx.tree.under(STATUS_D)) {
      if (node.type === 'file' && node.content && !node.path.endsWith('.md5sums'))
        out.push(...packagesFrom(ctx, node.content.toString('utf8'), node.path, node.layer));
    }
    return out;
  },
};
