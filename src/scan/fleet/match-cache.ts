/**
 * Matching for a fleet: images share most of their packages (one base image under hundreds of
 * applications, the same popular npm and PyPI releases), so each distinct package is matched once
 * per OSV database and its findings reused, stamped with the image's own layer. The result is what
 * matchPackages returns for the same packages (test/unit/scan/fleet.test.ts compares them).
 */
import { compareFindingIds, matchPackage, queriesFor } from '../osv/findings';
import { type OsvDatabase } from '../osv';
import { findingKey } from './finding-key';
import { type Finding, type Package, type Severity } from '../types';

/**
 * Distinct packages remembered per database; past it the cache starts over (memory stays bounded: an entry
 * without findings takes about 400 bytes, and two caches are kept across a refresh). 10,000 images of
 * 200–800 packages (bench/rescan-fleet.ts) hold about 650,000, more than this; a bound of 1,000,000 that
 * kept them all did not make the bench's delta re-match faster and its OSV refresh was slower (a larger
 * live heap for every major GC), so the bound stays where it was.
 */
const MAX_ENTRIES = 400_000;

const SEVERITY_RANK: Record<Severity, number> = { CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3, UNKNOWN: 4 };
/** matchPackages' first sort key: severity, negligible ones after all others (0–4, then 5–9). */
const rank = (f: Finding) => SEVERITY_RANK[f.severity] + (f.negligible ? 5 : 0);
const RANKS = 10;
/** Most packages have no findings: their entries share these arrays. */
const NO_FINDINGS: readonly Finding[] = Object.freeze([]);
const NO_RANKS: readonly number[] = Object.freeze([]);
const NO_KEYS: readonly string[] = Object.freeze([]);

/** A distinct package (everything matching reads of it: the layer only ends up in the findings) and its findings. */
interface Entry {
  pkg: Pick<Package, 'name' | 'version' | 'ecosystem' | 'release' | 'sourceName' | 'sourceVersion'>;
  found: readonly Finding[];
  /** rank() of each finding, computed once per distinct package rather than in every comparison of every image. */
  ranks: readonly number[];
  /** findingKey() of each finding (the layer is not in it): built once per distinct package, not per image. */
  keys: readonly string[];
}

/** A finding gathered for an image, with its key. */
interface Gathered {
  f: Finding;
  k: string;
}
const byIds = (a: Gathered, b: Gathered) => compareFindingIds(a.f, b.f);

/**
 * Entries by purl, then told apart field by field: a purl read from JSON is one flat string, hashed
 * at once, where a key joined from every field had to be built and hashed for each package of each
 * image (three quarters of the time of a re-match that finds every package cached).
 */
interface Cache {
  byPurl: Map<string, Entry[]>;
  size: number;
}

const caches = new WeakMap<OsvDatabase, Cache>();

/**
 * The database matched before the current one, with its cache: a package whose every lookup finds the
 * very same records in both (an unchanged export entry is reused as the same object, see the OSV
 * importer's ReusableEntries) has the same findings, so a refresh re-matches only the packages under
 * records that changed. Only the last one is kept.
 */
let previous: { db: OsvDatabase; cache: Cache } | undefined;
let current: { db: OsvDatabase; cache: Cache; sameKeys: Map<string, boolean> } | undefined;

function cacheOf(db: OsvDatabase): Cache {
  let cache = caches.get(db);
  if (cache) return cache;
  cache = { byPurl: new Map(), size: 0 };
  caches.set(db, cache);
  if (current && current.db !== db) previous = { db: current.db, cache: current.cache };
  current = { db, cache, sameKeys: new Map() };
  return cache;
}

/** The findings the previous database's cache holds for `pkg`, if every lookup of it finds the same records now. */
function carriedOver(db: OsvDatabase, pkg: Package): readonly Finding[] | undefined {
  if (!previous || !current || current.db !== db) return undefined;
  const found = previous.cache.byPurl.get(pkg.purl)?.find((e) => same(e.pkg, pkg))?.found;
  if (!found) return undefined;
  for (const q of queriesFor(pkg)) {
    const key = `${q.ecosystem}\u0000${q.name}`;
    let unchanged = current.sameKeys.get(key);
    if (unchanged === undefined) {
      const before = previous.db.lookup(q.ecosystem, q.name);
      const now = db.lookup(q.ecosystem, q.name);
      unchanged = before.length === now.length && before.every((r, i) => r === now[i]);
      current.sameKeys.set(key, unchanged);
    }
    if (!unchanged) return undefined;
  }
  return found;
}

function same(a: Entry['pkg'], b: Package): boolean {
  return (
    a.name === b.name &&
    a.version === b.version &&
    a.ecosystem === b.ecosystem &&
    a.release === b.release &&
    a.sourceName === b.sourceName &&
    a.sourceVersion === b.sourceVersion
  );
}

/**
 * All findings of `packages`, in matchPackages' order (rank, then id, then purl): gathered per rank as
 * they are found, so only findings of the same rank are compared, by their strings alone. `keys`, when
 * given, receives the findingKey of each finding, in the same order.
 */
export function matchFleetPackages(db: OsvDatabase, packages: readonly Package[], keys?: string[]): Finding[] {
  const cache = cacheOf(db);
  const buckets: Gathered[][] = Array.from({ length: RANKS }, () => []);
  for (const pkg of packages) {
    let entries = cache.byPurl.get(pkg.purl);
    let entry = entries?.find((e) => same(e.pkg, pkg));
    if (!entry) {
      if (cache.size >= MAX_ENTRIES) {
        cache.byPurl.clear();
        cache.size = 0;
        entries = undefined;
      }
      const found = carriedOver(db, pkg) ?? matchPackage(db, pkg);
      if (!entries) cache.byPurl.set(pkg.purl, (entries = []));
      const { name, version, ecosystem, release, sourceName, sourceVersion } = pkg;
      entry =
        found.length === 0
          ? { pkg: { name, version, ecosystem, release, sourceName, sourceVersion }, found: NO_FINDINGS, ranks: NO_RANKS, keys: NO_KEYS }
          : { pkg: { name, version, ecosystem, release, sourceName, sourceVersion }, found, ranks: found.map(rank), keys: found.map(findingKey) };
      entries.push(entry);
      cache.size++;
    }
    const { found, ranks, keys: entryKeys } = entry;
    for (let i = 0; i < found.length; i++) {
      const f = found[i]!;
      buckets[ranks[i]!]!.push({ f: f.package.layer === pkg.layer ? f : { ...f, package: { ...f.package, layer: pkg.layer } }, k: entryKeys[i]! });
    }
  }
  const out: Finding[] = [];
  for (const bucket of buckets) {
    if (bucket.length > 1) bucket.sort(byIds);
    for (const g of bucket) {
      out.push(g.f);
      keys?.push(g.k);
    }
  }
  return out;
}
