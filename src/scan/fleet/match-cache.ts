/**
 * Matching for a fleet: images share most of their packages (one base image under hundreds of
 * applications, the same popular npm and PyPI releases), so each distinct package is matched once
 * per OSV database and its findings reused, stamped with the image's own layer. The result is what
 * matchPackages returns for the same packages (test/unit/scan/fleet.test.ts compares them).
 */
import { compareFindingIds, matchPackage, queriesFor } from '../osv/findings';
import { packageKey } from '../osv/database';
import { type OsvDatabase } from '../osv';
import { findingKey } from './finding-key';
import { type Finding, type Package, type Severity } from '../types';

/**
 * Distinct packages remembered; past it the cache starts over (memory stays bounded: an entry without
 * findings takes about 400 bytes). 10,000 images of 200–800 packages (bench/rescan-fleet.ts) hold about
 * 650,000, more than this; a bound of 1,000,000 that kept them all did not make the bench's delta
 * re-match faster and its OSV refresh was slower (a larger live heap for every major GC), so the bound
 * stays where it was.
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
  /** The database keys (packageKey) the package is looked up under: its findings are those records'. */
  lookups: readonly string[];
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
  db: OsvDatabase;
  byPurl: Map<string, Entry[]>;
  size: number;
}

const caches = new WeakMap<OsvDatabase, Cache>();
/** The cache of the newest database matched: what the next database's cache is made of. */
let latest: Cache | undefined;

function cacheOf(db: OsvDatabase): Cache {
  let cache = caches.get(db);
  if (cache) return cache;
  if (latest && latest.db.info.importedAt <= db.info.importedAt) {
    cache = carryOver(latest, db);
    latest = cache;
  } else {
    // The first database, or one older than the newest (a batch that started before a refresh): its own cache.
    cache = { db, byPurl: new Map(), size: 0 };
    latest ??= cache;
  }
  caches.set(db, cache);
  return cache;
}

/**
 * A newer database's cache, made of the last one's: every entry whose lookups all find the very same
 * records in both (an unchanged export entry is reused as the same object, see the OSV importer's
 * ReusableEntries) has the same findings and is kept, so after a refresh only the packages under
 * records that changed are matched again. Moved, not copied (a copy of a fleet's 400,000 entries
 * cost more than the re-match it saved): the older database, if still matched by a batch that
 * started before the refresh, starts a cache of its own.
 */
function carryOver(from: Cache, db: OsvDatabase): Cache {
  const changed = new Set<string>();
  for (const [key, now] of db.packages()) {
    const before = from.db.recordsAt(key);
    if (before.length !== now.length || before.some((r, i) => r !== now[i])) changed.add(key);
  }
  for (const [key] of from.db.packages()) if (db.recordsAt(key).length === 0) changed.add(key);
  const { byPurl } = from;
  let size = 0;
  for (const [purl, entries] of byPurl) {
    const kept = entries.filter((e) => !e.lookups.some((k) => changed.has(k)));
    if (kept.length === 0) byPurl.delete(purl);
    else if (kept.length !== entries.length) byPurl.set(purl, kept);
    size += kept.length;
  }
  caches.delete(from.db);
  return { db, byPurl, size };
}

/** Lookup keys, one string each however many entries name them. */
const interned = new Map<string, string>();
function lookupsOf(pkg: Package): string[] {
  const out: string[] = [];
  for (const q of queriesFor(pkg)) {
    const key = packageKey(q.ecosystem, q.name);
    let one = interned.get(key);
    if (one === undefined) {
      if (interned.size >= MAX_ENTRIES) interned.clear();
      interned.set(key, (one = key));
    }
    if (!out.includes(one)) out.push(one);
  }
  return out;
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
      const found = matchPackage(db, pkg);
      if (!entries) cache.byPurl.set(pkg.purl, (entries = []));
      const { name, version, ecosystem, release, sourceName, sourceVersion } = pkg;
      const lookups = lookupsOf(pkg);
      entry =
        found.length === 0
          ? { pkg: { name, version, ecosystem, release, sourceName, sourceVersion }, found: NO_FINDINGS, ranks: NO_RANKS, keys: NO_KEYS, lookups }
          : { pkg: { name, version, ecosystem, release, sourceName, sourceVersion }, found, ranks: found.map(rank), keys: found.map(findingKey), lookups };
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
