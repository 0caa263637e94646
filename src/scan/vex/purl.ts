/**
 * Package URL comparison for VEX products (purl spec: pkg:type/namespace/name@version?qualifiers#subpath).
 * A statement's purl without a version names every version; qualifiers it names must agree with the
 * finding's when the finding has them (a statement for arch=amd64 does not cover arm64).
 */

export interface ParsedPurl {
  type: string;
  namespace: string;
  name: string;
  version?: string;
  qualifiers: Record<string, string>;
}

const decode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

export function parsePurl(purl: string): ParsedPurl | undefined {
  if (!purl.toLowerCase().startsWith('pkg:')) return undefined;
  let rest = purl.slice(4).replace(/^\/+/, '');
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const qualifiers: Record<string, string> = {};
  const q = rest.indexOf('?');
  if (q >= 0) {
    for (const pair of rest.slice(q + 1).split('&')) {
      const eq = pair.indexOf('=');
      if (eq > 0) qualifiers[pair.slice(0, eq).toLowerCase()] = decode(pair.slice(eq + 1));
    }
    rest = rest.slice(0, q);
  }
  let version: string | undefined;
  const at = rest.lastIndexOf('@');
  // An '@' in the first segment is a scoped npm namespace (%40 when escaped properly, raw in the wild).
  if (at > rest.indexOf('/') + 1) {
    version = decode(rest.slice(at + 1));
    rest = rest.slice(0, at);
  }
  const parts = rest.split('/').filter((p) => p !== '');
  if (parts.length < 2) return undefined;
  const type = parts[0]!.toLowerCase();
  const name = decode(parts[parts.length - 1]!);
  const namespace = parts.slice(1, -1).map(decode).join('/');
  return { type, namespace, name, ...(version !== undefined && version !== '' ? { version } : {}), qualifiers };
}

/** Types whose names the purl spec makes case-insensitive. */
const CASE_INSENSITIVE = new Set(['deb', 'apk', 'npm', 'pypi', 'golang', 'rpm', 'github', 'oci']);

/** True when `statement` (from a VEX document) names the package `actual` (from the SBOM). */
export function purlCovers(statement: string, actual: string): boolean {
  const s = parsePurl(statement);
  const a = parsePurl(actual);
  if (!s || !a || s.type !== a.type) return false;
  const norm = (v: string) => (CASE_INSENSITIVE.has(s.type) ? v.toLowerCase() : v);
  const name = (v: string) => (s.type === 'pypi' ? v.toLowerCase().replace(/[-_.]+/g, '-') : norm(v));
  if (norm(s.namespace) !== norm(a.namespace) || name(s.name) !== name(a.name)) return false;
  if (s.version !== undefined && s.version !== a.version) return false;
  return Object.entries(s.qualifiers).every(([k, v]) => a.qualifiers[k] === undefined || a.qualifiers[k] === v);
}

/** The image digest a pkg:oci purl names (its version), else undefined. */
export function ociDigest(purl: string): string | undefined {
  const p = parsePurl(purl);
  return p?.type === 'oci' && p.version && /^sha256:[a-f0-9]{64}$/.test(p.version) ? p.version : undefined;
}
