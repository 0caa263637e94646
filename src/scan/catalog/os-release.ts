/** OS detection from /etc/os-release (or /usr/lib/os-release), per os-release(5). */
import { type FileTree } from '../fs/tree';

export interface OsRelease {
  id: string;
  versionId: string;
  versionCodename?: string;
  /** The VERSION field, e.g. "22.04.4 LTS (Jammy Jellyfish)". */
  version?: string;
  prettyName?: string;
  idLike: string[];
}

export const OS_RELEASE_PATHS = ['/etc/os-release', '/usr/lib/os-release'];

export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let value = m[2]!.trim();
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
    out[m[1]!] = value;
  }
  return out;
}

export function detectOs(tree: FileTree): OsRelease | undefined {
  for (const path of OS_RELEASE_PATHS) {
    const content = tree.read(path);
    if (!content) continue;
    const fields = parseOsRelease(content.toString('utf8'));
    if (!fields.ID) continue;
    return {
      id: fields.ID.toLowerCase(),
      versionId: fields.VERSION_ID ?? '',
      ...(fields.VERSION_CODENAME ? { versionCodename: fields.VERSION_CODENAME } : {}),
      ...(fields.VERSION ? { version: fields.VERSION } : {}),
      ...(fields.PRETTY_NAME ? { prettyName: fields.PRETTY_NAME } : {}),
      idLike: (fields.ID_LIKE ?? '').split(/\s+/).filter(Boolean),
    };
  }
  return undefined;
}

/** The OSV release-scoped ecosystem of an OS: 'Debian:12', 'Ubuntu:22.04:LTS', 'Ubuntu:24.10', 'Alpine:v3.20'. */
export function osvRelease(os: OsRelease | undefined): string | undefined {
  if (!os || !os.versionId) return undefined;
  if (os.id === 'debian') return `Debian:${os.versionId.split('.')[0]}`;
  if (os.id === 'ubuntu') return `Ubuntu:${os.versionId}${/\bLTS\b/.test(os.version ?? '') ? ':LTS' : ''}`;
  if (os.id === 'alpine') return `Alpine:v${os.versionId.split('.').slice(0, 2).join('.')}`;
  return undefined;
}
