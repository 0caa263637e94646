/** An authentication challenge from a registry's `WWW-Authenticate` header (RFC 7235, Docker token spec). */
export type Challenge = { scheme: 'basic'; realm?: string } | { scheme: 'bearer'; realm: string; service?: string; scope?: string; error?: string };

const PARAM = /([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/y;

/** Parses the first Basic or Bearer challenge of the header; undefined when there is none usable. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const match = /^\s*(Basic|Bearer)\b\s*/i.exec(header);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  let pos = match[0].length;
  while (pos < header.length) {
    PARAM.lastIndex = pos;
    const p = PARAM.exec(header);
    if (!p) break;
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
    pos = PARAM.lastIndex;
    const sep = /^\s*,\s*/.exec(header.slice(pos));
    if (!sep) break;
    pos += sep[0].length;
  }
  if (match[1]!.toLowerCase() === 'basic') return { scheme: 'basic', ...(params.realm !== undefined ? { realm: params.realm } : {}) };
  if (!params.realm) return undefined;
  return {
    scheme: 'bearer',
    realm: params.realm,
    ...(params.service !== undefined ? { service: params.service } : {}),
    ...(params.scope !== undefined ? { scope: params.scope } : {}),
    ...(params.error !== undefined ? { error: params.error } : {}),
  };
}

/** Scope strings of the token spec: `repository:<name>:<actions>` and `registry:catalog:*`. */
export const pullScope = (repository: string) => `repository:${repository}:pull`;
export const pushScope = (repository: string) => `repository:${repository}:pull,push`;
export const CATALOG_SCOPE = 'registry:catalog:*';
