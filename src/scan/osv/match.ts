/**
 * Does an OSV `affected` entry cover a package version? Implements the evaluation of the OSV
 * schema: `versions` lists, and SEMVER / ECOSYSTEM ranges whose sorted events open (introduced)
 * and close (fixed, last_affected) affected intervals; `limit` caps a range.
 */
import { baseEcosystem, comparatorFor, compareGo, compareSemver, type VersionCompare } from '../versions';
import { type OsvAffected, type OsvEvent, type OsvRange } from './schema';

export interface AffectedMatch {
  affected: boolean;
  /** Fixed versions named by the ranges that matched, ascending. */
  fixedVersions: string[];
}

const versionOf = (e: OsvEvent): string => ('introduced' in e ? e.introduced : 'fixed' in e ? e.fixed : 'last_affected' in e ? e.last_affected : e.limit);

/** Wraps a comparator so that versions it cannot parse make the range inapplicable instead of crashing the scan. */
function safe(cmp: VersionCompare): (a: string, b: string) => number | undefined {
  return (a, b) => {
    try {
      return cmp(a, b);
    } catch {
      return undefined;
    }
  };
}

function rangeComparator(range: OsvRange, ecosystem: string): VersionCompare | undefined {
  if (range.type === 'ECOSYSTEM') return comparatorFor(ecosystem);
  if (range.type === 'SEMVER') return baseEcosystem(ecosystem) === 'Go' ? compareGo : compareSemver;
  return undefined; // GIT ranges name commits, not versions
}

/**
 * What evaluating a range reads of it, worked out once per range (and comparator): its limits, its
 * other events in order and its fixed versions. A fleet rescan evaluates the same ranges for every
 * version of every package the fleet holds, and sorted each range's events again each time.
 */
interface CompiledRange {
  base: VersionCompare;
  limits: readonly string[];
  sorted: readonly OsvEvent[];
  fixed: readonly string[];
}
const compiledRanges = new WeakMap<OsvRange, CompiledRange>();

function compile(range: OsvRange, base: VersionCompare): CompiledRange {
  const known = compiledRanges.get(range);
  if (known?.base === base) return known;
  const cmp = safe(base);
  const events = range.events.filter((e) => !('limit' in e));
  const sorted = [...events].sort((a, b) => {
    const va = versionOf(a);
    const vb = versionOf(b);
    if (va === '0' && 'introduced' in a) return -1;
    if (vb === '0' && 'introduced' in b) return 1;
    return cmp(va, vb) ?? 0;
  });
  const compiled: CompiledRange = {
    base,
    limits: Object.freeze(range.events.filter((e) => 'limit' in e).map(versionOf)),
    sorted: Object.freeze(sorted),
    fixed: Object.freeze(events.filter((e) => 'fixed' in e).map(versionOf)),
  };
  compiledRanges.set(range, compiled);
  return compiled;
}

/** Evaluates one range; undefined when its versions cannot be ordered with the ecosystem's rules. */
export function rangeAffects(range: OsvRange, ecosystem: string, version: string): { affected: boolean; fixed: readonly string[] } | undefined {
  const base = rangeComparator(range, ecosystem);
  if (!base) return undefined;
  const { limits, sorted, fixed } = compile(range, base);
  const cmp = safe(base);
  // "0" in `introduced` means "since the beginning", whatever the scheme.
  const vs = (eventVersion: string): number | undefined => (eventVersion === '0' ? 1 : cmp(version, eventVersion));
  if (limits.length > 0 && limits.every((l) => l !== '*' && (vs(l) ?? 1) >= 0)) return { affected: false, fixed: [] };
  let affected = false;
  for (const e of sorted) {
    const c = vs(versionOf(e));
    if (c === undefined) return undefined;
    if ('introduced' in e && c >= 0) affected = true;
    else if ('fixed' in e && c >= 0) affected = false;
    else if ('last_affected' in e && c > 0) affected = false;
  }
  return { affected, fixed };
}

export function affectedEntryMatches(entry: OsvAffected, ecosystem: string, version: string): AffectedMatch {
  const fixed: string[] = [];
  let affected = false;
  if (entry.versions?.includes(version)) affected = true;
  for (const range of entry.ranges ?? []) {
    const result = rangeAffects(range, ecosystem, version);
    if (!result) continue;
    fixed.push(...result.fixed);
    if (result.affected) affected = true;
  }
  const cmp = comparatorFor(ecosystem);
  const sortedFixed = cmp ? [...new Set(fixed)].sort((a, b) => safe(cmp)(a, b) ?? 0) : [...new Set(fixed)];
  return { affected, fixedVersions: sortedFixed };
}
