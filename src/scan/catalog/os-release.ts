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

/** SUSE Linux Enterprise os-release IDs (server, desktop, SAP, micro). */
export const SLE_IDS = ['sles', 'sled', 'sles_sap', 'sle-micro', 'sl-micro'];

/**
 * The OSV release-scoped ecosystem of an OS: 'Debian:12', 'Ubuntu:22.04:LTS', 'Ubuntu:24.10', 'Alpine:v3.20',
 * 'Rocky Linux:9', 'AlmaLinux:8', 'Mageia:9', 'openSUSE:Leap 15.6', 'openSUSE:Tumbleweed'; for RHEL and SLE the
 * release scope of their per-repository / per-module ecosystems: 'Red Hat:enterprise_linux:9',
 * 'SUSE:Linux Enterprise 15 SP5' (see ../ecosystems.ts). Undefined for an OS OSV has no advisories for.
 */
export function osvRelease(os: OsRelease | undefined): string | undefined {
  if (!os || !os.versionId) return undefined;
  const [major, minor] = os.versionId.split('.');
  if (os.id === 'debian') return `Debian:${major}`;
  if (os.id === 'ubuntu') return `Ubuntu:${os.versionId}${/\bLTS\b/.test(os.version ?? '') ? ':LTS' : ''}`;
  if (os.id === 'alpine') return `Alpine:v${os.versionId.split('.').slice(0, 2).join('.')}`;
  if (os.id === 'rhel') return `Red Hat:enterprise_linux:${major}`;
  if (os.id === 'rocky') return `Rocky Linux:${major}`;
  if (os.id === 'almalinux') return `AlmaLinux:${major}`;
  if (os.id === 'mageia') return `Mageia:${major}`;
  if (os.id.startsWith('opensuse')) {
    // OSV names openSUSE releases by the marketing name PRETTY_NAME carries: 'openSUSE Leap 15.6' → 'openSUSE:Leap 15.6'.
    const pretty = /^openSUSE (.+)$/.exec(os.prettyName ?? '')?.[1];
    if (pretty) return `openSUSE:${pretty}`;
    if (os.id === 'opensuse-leap') return `openSUSE:Leap ${os.versionId}`;
    if (os.id === 'opensuse-tumbleweed') return 'openSUSE:Tumbleweed';
    return undefined;
  }
  if (os.id === 'sle-micro' || os.id === 'sl-micro') {
    // Micro has its own numbering and ecosystems: 'SUSE Linux Enterprise Micro 5.5' → 'SUSE:Linux Enterprise Micro 5.5'.
    const pretty = /^SUSE (.+)$/.exec(os.prettyName ?? '')?.[1];
    return pretty ? `SUSE:${pretty}` : undefined;
  }
  if (SLE_IDS.includes(os.id)) return `SUSE:Linux Enterprise ${major}${minor && minor !== '0' ? ` SP${minor}` : ''}`;
  return undefined;
}
