/**
 * The grammar of build rules' `${name}` templates (image tags, repositories), for checking them when
 * the configuration loads: the ref pattern's named groups and a few facts of the push.
 * src/source-build/template.ts expands them.
 */
export const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Variables every push provides, whatever the ref pattern. */
export const BUILTIN_VARIABLES = ['commit', 'shortCommit', 'ref', 'refName', 'repo'] as const;

export function templateVariables(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/** Named groups of a regular expression's source (`(?<name>…)`). */
export function namedGroups(pattern: string): string[] {
  return [...pattern.matchAll(/\(\?<([A-Za-z_][A-Za-z0-9_]*)>/g)].map((m) => m[1]!);
}
