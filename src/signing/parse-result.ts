/** Outcome of reading untrusted bytes: a value, or the reason it was refused (never an exception). */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

export function describeIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}
