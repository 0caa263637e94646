/**
 * Maven version comparison after ComparableVersion: items split at '.', '-' and digit/letter
 * transitions; qualifiers alpha < beta < milestone < rc < snapshot < "" (release) < sp; unknown
 * qualifiers sort after known ones, alphabetically; trailing zero/empty items are ignored.
 */
const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Record<string, string> = { a: 'alpha', b: 'beta', m: 'milestone', cr: 'rc', ga: '', final: '', release: '' };

type Item = { kind: 'num'; value: bigint } | { kind: 'str'; value: string };

function items(version: string): Item[] {
  const parts = version.toLowerCase().match(/\d+|[a-z]+/g) ?? [];
  const list: Item[] = parts.map((p) => (/^\d/.test(p) ? { kind: 'num', value: BigInt(p) } : { kind: 'str', value: ALIASES[p] ?? p }));
  while (list.length > 0) {
    const last = list[list.length - 1]!;
    if ((last.kind === 'num' && last.value === 0n) || (last.kind === 'str' && last.value === '')) list.pop();
    else break;
  }
  return list;
}

function qualifierRank(q: string): string {
  const i = QUALIFIERS.indexOf(q);
  return i >= 0 ? String(i) : `${QUALIFIERS.length}-${q}`;
}

function compareItem(a: Item | undefined, b: Item | undefined): number {
  if (a === undefined && b === undefined) return 0;
  if (a === undefined) return -compareItem(b, undefined);
  if (b === undefined) {
    if (a.kind === 'num') return a.value === 0n ? 0 : 1;
    return qualifierRank(a.value) < qualifierRank('') ? -1 : a.value === '' ? 0 : 1;
  }
  if (a.kind === 'num' && b.kind === 'num') return a.value === b.value ? 0 : a.value < b.value ? -1 : 1;
  if (a.kind === 'num') return 1; // numbers are newer than qualifiers
  if (b.kind === 'num') return -1;
  const ra = qualifierRank(a.value);
  const rb = qualifierRank(b.value);
  return ra === rb ? 0 : ra < rb ? -1 : 1;
}

export function compareMaven(a: string, b: string): number {
  const ia = items(a);
  const ib = items(b);
  for (let k = 0; k < Math.max(ia.length, ib.length); k++) {
    const c = compareItem(ia[k], ib[k]);
    if (c !== 0) return c;
  }
  return 0;
}
