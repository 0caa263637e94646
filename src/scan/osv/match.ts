/**
 * Does an OSV `affected` entry cover a package version? Implements the evaluation of the OSV
 * schema: `versions` lists, and SEMVER / ECOSYSTEM ranges whose sorted events open (introduced)
 * and close (fixed, last_affected) affected intervals; `limit` caps a range.
 */
import { baseEcosystem, comparatorFor, compareGo, compareSemver, type VersionCompare } from '../versions';
import { type OsvAffected, type OsvEvent, type OsvRange } from './schema';

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
 * What evaluating a range reads of it, worked out once per range (and comparator): its comparator made
 * safe, its limits, its other events in order (each one's version and kind) and its fixed versions. A
 * fleet rescan evaluates the same ranges for every version of every package the fleet holds, and
 * sorted each range's events again each time.
 */
interface CompiledRange {
  base: VersionCompare;
  cmp: (a: string, b: string) => number | undefined;
  limits: readonly string[];
  /** The versions of the events other than limits, in order, each with its kind (INTRODUCED, FIXED, LAST_AFFECTED). */
  versions: readonly string[];
  kinds: Uint8Array;
  fixed: readonly string[];
}
const compiledRanges = new WeakMap<OsvRange, CompiledRange>();
const INTRODUCED = 0;
const FIXED = 1;
const LAST_AFFECTED = 2;

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
    cmp,
    limits: Object.freeze(range.events.filter((e) => 'limit' in e).map(versionOf)),
    versions: Object.freeze(sorted.map(versionOf)),
    kinds: Uint8Array.from(sorted, (e) => ('introduced' in e ? INTRODUCED : 'fixed' in e ? FIXED : LAST_AFFECTED)),
    fixed: Object.freeze(events.filter((e) => 'fixed' in e).map(versionOf)),
  };
  compiledRanges.set(range, compiled);
  return compiled;
}

/** What a range says of a version (rangeState). */
const UNORDERED = -1; // its versions cannot be ordered with the ecosystem's rules: the range is skipped
const LIMITED = 0; // at or past every limit: not affected, and the range names no fix
const UNAFFECTED = 1;
const AFFECTED = 2;

/**
 * Evaluates one range, without allocating: a fleet rescan evaluates every range under a package for
 * every version of it the fleet holds (a kernel's thousands of records), and most say "not affected".
 */
function rangeState(range: OsvRange, ecosystem: string, version: string): number {
  const base = rangeComparator(range, ecosystem);
  if (!base) return UNORDERED;
  const { cmp, limits, versions, kinds } = compile(range, base);
  // "0" in an event means "since the beginning", whatever the scheme.
  if (limits.length > 0) {
    let past = true;
    for (const limit of limits)
      if (limit === '*' || ((limit === '0' ? 1 : cmp(version, limit)) ?? 1) < 0) {
        past = false;
        break;
      }
    if (past) return LIMITED;
  }
  let affected = false;
  for (let i = 0; i < versions.length; i++) {
    const at = versions[i]!;
    const c = at === '0' ? 1 : cmp(version, at);
    if (c === undefined) return UNORDERED;
    const kind = kinds[i];
    if (kind === INTRODUCED) {
      if (c >= 0) affected = true;
    } else if (kind === FIXED ? c >= 0 : c > 0) affected = false;
  }
  return affected ? AFFECTED : UNAFFECTED;
}

/** Evaluates one range; undefined when its versions cannot be ordered with the ecosystem's rules. */
export function rangeAffects(range: OsvRange, ecosystem: string, version: string): { affected: boolean; fixed: readonly string[] } | undefined {
  const state = rangeState(range, ecosystem, version);
  if (state === UNORDERED) return undefined;
  return { affected: state === AFFECTED, fixed: state === LIMITED ? [] : compile(range, rangeComparator(range, ecosystem)!).fixed };
}

/**
 * Whether an entry affects a version: undefined when it does not; when it does, the fixed versions
 * named by its ranges that could order the version (but those it is past the limits of), each once,
 * ascending.
 */
export function affectedFixes(entry: OsvAffected, ecosystem: string, version: string): string[] | undefined {
  let affected = listed(entry, version);
  const ranges = entry.ranges ?? [];
  // Bit i: range i names its fixes (past 31 ranges, evaluated again below).
  let naming = 0;
  for (let i = 0; i < ranges.length; i++) {
    const state = rangeState(ranges[i]!, ecosystem, version);
    if (state === AFFECTED) affected = true;
    if (state >= UNAFFECTED && i < 31) naming |= 1 << i;
  }
  if (!affected) return undefined;
  const fixed: string[] = [];
  for (let i = 0; i < ranges.length; i++) {
    const range = ranges[i]!;
    if (i < 31 ? (naming & (1 << i)) !== 0 : rangeState(range, ecosystem, version) >= UNAFFECTED)
      fixed.push(...compile(range, rangeComparator(range, ecosystem)!).fixed);
  }
  const unique = fixed.length < 2 ? fixed : [...new Set(fixed)];
  const cmp = comparatorFor(ecosystem);
  if (!cmp || unique.length < 2) return unique;
  const ordered = safe(cmp);
  return unique.sort((a, b) => ordered(a, b) ?? 0);
}

/**
 * Whether an entry's `versions` lists the version: a language advisory lists every affected version
 * (hundreds for a long-lived package), looked up as a set once it is long.
 */
function listed(entry: OsvAffected, version: string): boolean {
  const versions = entry.versions;
  if (versions === undefined) return false;
  if (versions.length < 16) return versions.includes(version);
  let set = listedSets.get(entry);
  if (set === undefined) listedSets.set(entry, (set = new Set(versions)));
  return set.has(version);
}
const listedSets = new WeakMap<OsvAffected, ReadonlySet<string>>();
