/**
 * Matching for a fleet: images share most of their packages (one base image under hundreds of
 * applications, the same popular npm and PyPI releases), so each distinct package is matched once
 * per OSV database and its findings reused: handed out as the cache holds them, with the image's own
 * layer of each (stampLayers copies them into it). Stamped, the result is what matchPackages and
 * summarize() give for the same packages: the findings a summary keeps, and the counts of all of them
 * (test/unit/scan/fleet.test.ts compares them).
 */
import { anyAffects, carryFindings, compareFindingIds, keysOf, matchPackage, queriesFor, type Query } from '../osv/findings';
import { differingRecordsAt, packageKey, sameRecordsAt } from '../osv/database';
import { type OsvDatabase, type OsvRecord } from '../osv';
import { findingKey } from './finding-key';
import { findingRank, NEGLIGIBLE_RANK, RANKS, severityRank } from '../finding-rank';
import { heapBound } from '../heap-bound';
import { type FindingTally } from '../scan-image';
import { type Finding, type Package, SEVERITIES, type SeverityCounts } from '../types';

/**
 * Distinct packages remembered; past it the cache starts over (memory stays bounded). Sized to hold a
 * fleet: 10,000 images of 200–800 packages (bench/rescan-fleet.ts) hold about 650,000. Under a bound
 * smaller than the fleet, a rescan clears the cache over and over as it goes through the images in
 * turn, so it matches most packages again in every rescan, and the delta after a full one finds
 * little to carry over. In `npm run bench -- rescan` (10,000 SBOMs, back to back), the delta's match
 * and re-gate took 30.2 s with the 400,000 this was and 15.8 s with the fleet held (together with
 * gathering only the kept findings), the full rescan's 129 s and 103 s. The bound is cut to what a
 * share of the process's heap limit holds, so a worker given a smaller heap (a container's memory)
 * drops entries rather than running out of memory.
 */
export function cacheBound(heapLimitBytes: number): number {
  return heapBound(CACHE_BOUND, heapLimitBytes);
}
const CACHE_BOUND = {
  max: 1_000_000,
  min: 50_000,
  /** About what an entry takes with its findings and their keys (the bench's fleet: 650,000 entries in 967 MB of heap). */
  entryBytes: 1_500,
  /** What the cache may fill of the heap limit: the OSV data (two sets across a refresh) and the batches' work need the rest. */
  share: 0.35,
};
const MAX_ENTRIES = heapBound(CACHE_BOUND);

/** An entry's tally: a count per rank, then a count of fixable findings per severity. */
const TALLY = RANKS + SEVERITIES.length;
/** Most packages have no findings: their entries share these arrays. */
const NO_FINDINGS: readonly Finding[] = Object.freeze([]);
const NO_RANKS: readonly number[] = Object.freeze([]);
const NO_KEYS: readonly string[] = Object.freeze([]);
const NO_TALLY: readonly number[] = Object.freeze([]);

/**
 * A distinct package, with what matching reads of it (the layer only ends up in the findings) held in
 * the entry itself, and its findings. Entries of one purl are chained (`next`): nearly every purl names
 * one package, so a lookup reads the map's entry and no array, and compares the fields it holds.
 */
interface Entry {
  readonly name: string;
  readonly version: string;
  readonly ecosystem: Package['ecosystem'];
  readonly release: string | undefined;
  readonly sourceName: string | undefined;
  readonly sourceVersion: string | undefined;
  /** Its findings: replaced, with the three below, when a refresh changes them (patch). */
  found: readonly Finding[];
  /** findingRank() of each finding, computed once per distinct package rather than in every comparison of every image. */
  ranks: readonly number[];
  /** findingKey() of each finding (the layer is not in it): built once per distinct package, not per image. */
  keys: readonly string[];
  /** The database keys (packageKey) the package is looked up under: its findings are those records'. */
  readonly lookups: readonly string[];
  /** How many findings of each rank, then how many fixable of each severity (tallyOfFound): summed per image, never counted from its findings. */
  tally: readonly number[];
  /** The next entry of the same purl (another package under it), if any. */
  next: Entry | undefined;
  /** The purl it is cached under. */
  readonly purl: string;
  /** Dropped by a carry-over (its findings changed): still listed under its other lookup keys until they are tidied. */
  dropped: boolean;
}

/** A finding gathered for an image, with its key and the index of its package in the image (for its layer). */
interface Gathered {
  f: Finding;
  k: string;
  at: number;
  /** The finding's id, read once as gathered: sorting compares it without reaching into each finding. */
  id: string;
}
/** compareFindingIds: ids first, from the gathered objects (a fleet's findings are scattered over a heap of gigabytes). */
const byIds = (a: Gathered, b: Gathered) => (a.id < b.id ? -1 : a.id > b.id ? 1 : compareFindingIds(a.f, b.f));

/**
 * Entries by purl, then told apart field by field: a purl read from JSON is one flat string, hashed
 * at once, where a key joined from every field had to be built and hashed for each package of each
 * image (three quarters of the time of a re-match that finds every package cached).
 */
interface Cache {
  db: OsvDatabase;
  /**
   * The first entry of each purl, the others chained behind it: packages matched without a number in the
   * package table. A numbered one is found by its number alone (byId), and never looked up or listed here:
   * a fleet's 650,000 purls hashed and held once more cost about a second of a worker's first full rescan.
   */
  byPurl: Map<string, Entry>;
  /**
   * Entries by their package's number in the package table (rescan views name packages by number), for
   * the table's epoch `tableEpoch`: an array read, where a purl is hashed and compared in a map of a fleet's
   * packages. A dropped entry is left in place (`dropped`) and matched again when next asked for.
   */
  byId: Array<Entry | undefined>;
  tableEpoch: string | undefined;
  /** The entries under each database key they are looked up under: what a carry-over drops when the key's records change. */
  byKey: Map<string, Entry[]>;
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
    cache = { db, byPurl: new Map(), byKey: new Map(), byId: [], tableEpoch: undefined, size: 0 };
    latest ??= cache;
  }
  caches.set(db, cache);
  return cache;
}

/**
 * A newer database's cache, made of the last one's: an entry's findings are made of its queries' hits
 * alone (the records that affect its version, grouped), and a record's hit depends on the record and
 * the query alone. Under a key whose records changed, only the records that differ (differingRecordsAt:
 * an unchanged export entry is reused as the same object, see the OSV importer's ReusableEntries) can
 * hit otherwise: an entry none of them affects, in either database, has the very same hits and keeps
 * its findings. An entry one of them affects has its findings patched (carryFindings: only those a
 * differing record can reach are made again, the others kept as the same objects), or, holding none,
 * is dropped and matched again when next asked for. After a refresh only the findings a changed record
 * reaches are made again (a kernel's key holds thousands of binary package versions, of which a
 * changed CVE reaches a few, each holding hundreds of findings it leaves alone). Moved, not copied (a
 * copy of a fleet's 400,000 entries cost more than the re-match it saved): the older database, if
 * still matched by a batch that started before the refresh, starts a cache of its own.
 */
function carryOver(from: Cache, db: OsvDatabase): Cache {
  const { byPurl, byKey, byId, tableEpoch } = from;
  let { size } = from;
  // Only the entries under a changed key are visited (byKey), not the fleet's: a day's refresh changes a few hundred keys.
  const changed: string[] = [];
  for (const [key] of db.packages()) if (!sameRecordsAt(from.db, db, key)) changed.push(key);
  for (const [key] of from.db.packages()) if (db.recordsAt(key).length === 0) changed.push(key);
  // Keys that still list an entry dropped under another key of its: tidied once each below.
  const untidy = new Set<string>();
  // Entries patched already, under another changed key of theirs: a patch reads the changes under all of them.
  const patched = new Set<Entry>();
  for (const key of changed) {
    const under = byKey.get(key);
    if (under === undefined) continue;
    const differing = differingRecordsAt(from.db, db, key);
    const kept: Entry[] = [];
    for (const e of under) {
      if (e.dropped) continue;
      if (patched.has(e) || !reachedBy(e, key, differing)) {
        kept.push(e);
        continue;
      }
      if (e.found.length > 0) {
        patch(e, from.db, db);
        patched.add(e);
        kept.push(e);
        continue;
      }
      e.dropped = true;
      size--;
      unlink(byPurl, e);
      for (const k of e.lookups) if (k !== key) untidy.add(k);
    }
    if (kept.length) byKey.set(key, kept);
    else byKey.delete(key);
  }
  for (const key of untidy) {
    const kept = byKey.get(key)?.filter((e) => !e.dropped);
    if (kept === undefined) continue;
    if (kept.length) byKey.set(key, kept);
    else byKey.delete(key);
  }
  caches.delete(from.db);
  return { db, byPurl, byKey, byId, tableEpoch, size };
}

/**
 * The entry's findings in `after`, made of those it holds in `before` (carryFindings), with their ranks,
 * keys and tally: a kept finding's rank and key are the ones the entry holds already. The findings are
 * made for the package with the layer its first finding holds (every finding of an entry holds the
 * layer of the package it was first matched from; stampLayers gives each image its own).
 */
function patch(e: Entry, before: OsvDatabase, after: OsvDatabase): void {
  const pkg: Package = {
    name: e.name,
    version: e.version,
    ecosystem: e.ecosystem,
    ...(e.release === undefined ? {} : { release: e.release }),
    ...(e.sourceName === undefined ? {} : { sourceName: e.sourceName }),
    ...(e.sourceVersion === undefined ? {} : { sourceVersion: e.sourceVersion }),
    purl: e.purl,
    layer: e.found[0]!.package.layer,
    location: '',
  };
  const found = carryFindings(before, after, pkg, e.found);
  if (found === e.found) return;
  if (found.length === 0) {
    e.found = NO_FINDINGS;
    e.ranks = NO_RANKS;
    e.keys = NO_KEYS;
    e.tally = NO_TALLY;
    return;
  }
  const at = new Map<Finding, number>();
  e.found.forEach((f, i) => at.set(f, i));
  const ranks = new Array<number>(found.length);
  const keys = new Array<string>(found.length);
  for (let i = 0; i < found.length; i++) {
    const f = found[i]!;
    const was = at.get(f);
    ranks[i] = was === undefined ? findingRank(f) : e.ranks[was]!;
    keys[i] = was === undefined ? findingKey(f) : e.keys[was]!;
  }
  e.found = found;
  e.ranks = ranks;
  e.keys = keys;
  e.tally = tallyOfFound(found);
}

/** Whether any of `differing` (records under `key`) affects one of the entry's queries under that key. */
function reachedBy(e: Entry, key: string, differing: readonly OsvRecord[]): boolean {
  if (differing.length === 0) return false;
  for (const q of queriesFor(e)) if (packageKey(q.ecosystem, q.name) === key && anyAffects(differing, q)) return true;
  return false;
}

/** Takes `e` out of its purl's chain. */
function unlink(byPurl: Map<string, Entry>, e: Entry): void {
  const first = byPurl.get(e.purl);
  if (first === e) {
    if (e.next) byPurl.set(e.purl, e.next);
    else byPurl.delete(e.purl);
    return;
  }
  for (let p = first; p; p = p.next)
    if (p.next === e) {
      p.next = e.next;
      return;
    }
}

/**
 * Lookup key lists, one array for each distinct list however many entries hold it: every version of
 * a package, and every binary package of a Debian source (its source's release-scoped and bare
 * keys), is looked up under the same keys.
 */
const interned = new Map<string, readonly string[]>();
function lookupsOf(queries: readonly Query[]): readonly string[] {
  const out = keysOf(queries);
  const id = out.join('\u0001');
  let one = interned.get(id);
  if (one === undefined) {
    if (interned.size >= MAX_ENTRIES) interned.clear();
    interned.set(id, (one = Object.freeze(out)));
  }
  return one;
}

/** The fields matching reads, version first: packages under one purl differ by it, if at all. */
function same(a: Entry, b: Package): boolean {
  return (
    a.version === b.version &&
    a.name === b.name &&
    a.ecosystem === b.ecosystem &&
    a.release === b.release &&
    a.sourceName === b.sourceName &&
    a.sourceVersion === b.sourceVersion
  );
}

/**
 * An image's packages as a rescan view gives them (PackageRows): each one's layer, and its number in
 * the package table when read from it (the packages are then the table's, without a layer).
 */
export interface FleetRows {
  layers: readonly string[];
  table?: { epoch: string; ids: readonly number[] };
}

/** What matchFleetImage gives: the first findings of an image in matchPackages' order, and the tally of all of them. */
export interface FleetMatch {
  /**
   * The first `max` findings as the cache holds them: each with the layer of the first image matched
   * with its package, not this image's (stampLayers). One object per distinct package's finding across
   * the fleet, for what reads no layer (the gate's facts are made once per cached finding).
   */
  cached: Finding[];
  /** The layer of each of `cached` in this image (its package's). */
  layers: string[];
  /** findingKey() of each of `cached`, in the same order (the layer is not in it). */
  keys: string[];
  tally: FindingTally;
  /**
   * The rank (finding-rank.ts) of the last of the first `max`, when findings were left out past it
   * (undefined: none were). The first `max` stay the same while the findings ranked at or above it
   * do: what a delta rescan's plan reads (mustRematch).
   */
  cut: number | undefined;
}

/**
 * `cached` with each finding in its layer of `layers`: a copy where the cache's finding has another
 * (the summary's findings, what matchPackages gives for the image).
 */
export function stampLayers(cached: readonly Finding[], layers: readonly string[]): Finding[] {
  const out = new Array<Finding>(cached.length);
  for (let i = 0; i < cached.length; i++) {
    const f = cached[i]!;
    const layer = layers[i]!;
    out[i] = f.package.layer === layer ? f : { ...f, package: { ...f.package, layer } };
  }
  return out;
}

/**
 * The first `max` findings of `packages` in matchPackages' order (rank, then id, then purl), with the
 * tally of all of them (summarizeKept). The tally is summed from each distinct package's own, which
 * says how many findings of each rank the image has: the rank at which the first `max` end is known
 * before a finding is gathered, and findings of lower ranks (most of a large image's: about 1,060
 * findings an image in the rescan bench, of which a summary keeps 500) are never gathered, sorted or
 * stamped with the image's layer. Gathered per rank, so only findings of the same rank are compared,
 * by their strings alone.
 */
export function matchFleetImage(db: OsvDatabase, packages: readonly Package[], max: number, rows?: FleetRows): FleetMatch {
  const cache = cacheOf(db);
  const entries: Entry[] = new Array<Entry>(packages.length);
  const sums = new Array<number>(TALLY).fill(0);
  const table = rows?.table;
  if (table && table.epoch !== cache.tableEpoch) {
    // A table that starts over: its numbers name other packages. Every entry is dropped (those of the old
    // numbers are listed nowhere else but byKey), and matched again when next asked for.
    if (cache.tableEpoch !== undefined) clear(cache);
    cache.tableEpoch = table.epoch;
  }
  for (let i = 0; i < packages.length; i++) {
    let entry: Entry | undefined;
    if (table) {
      const id = table.ids[i]!;
      entry = cache.byId[id];
      if (entry === undefined || entry.dropped) {
        // Made first, then kept: a cache at its bound starts over inside entryOf, with a new byId array,
        // which `cache.byId[id] = entryOf(…)` would have read before the call and kept the entry out of.
        entry = entryOf(cache, db, packages[i]!, true);
        cache.byId[id] = entry;
      }
    } else entry = entryOf(cache, db, packages[i]!, false);
    entries[i] = entry;
    const { tally } = entry;
    if (tally !== NO_TALLY) for (let j = 0; j < TALLY; j++) sums[j]! += tally[j]!;
  }
  // The last rank any of the first `max` findings has.
  let last = RANKS - 1;
  for (let r = 0, seen = 0; r < RANKS; r++)
    if ((seen += sums[r]!) >= max) {
      last = r;
      break;
    }
  const buckets: Gathered[][] = Array.from({ length: last + 1 }, () => []);
  for (let i = 0; i < packages.length; i++) {
    const { found, ranks, keys } = entries[i]!;
    for (let j = 0; j < found.length; j++) {
      const r = ranks[j]!;
      if (r <= last) {
        const f = found[j]!;
        buckets[r]!.push({ f, k: keys[j]!, at: i, id: f.id });
      }
    }
  }
  const cached: Finding[] = [];
  const layers: string[] = [];
  const keys: string[] = [];
  for (const bucket of buckets) {
    if (bucket.length > 1) bucket.sort(byIds);
    for (const g of bucket) {
      if (cached.length === max) break;
      cached.push(g.f);
      layers.push(rows ? rows.layers[g.at]! : packages[g.at]!.layer);
      keys.push(g.k);
    }
  }
  let negligible = 0;
  let total = 0;
  for (let r = 0; r < RANKS; r++) {
    total += sums[r]!;
    if (r >= NEGLIGIBLE_RANK) negligible += sums[r]!;
  }
  const counts = {} as SeverityCounts;
  const fixable = {} as SeverityCounts;
  for (const s of SEVERITIES) {
    counts[s] = sums[severityRank(s, false)]!;
    fixable[s] = sums[RANKS + severityRank(s, false)]!;
  }
  return { cached, layers, keys, tally: { counts, fixable, negligible, total }, cut: total > max ? last : undefined };
}

/** Drops every entry. */
function clear(cache: Cache): void {
  cache.byPurl.clear();
  cache.byKey.clear();
  cache.byId = [];
  cache.size = 0;
}

/** The cached entry of `pkg`, matched now if the cache has none; `numbered`: the package table's (its caller keeps it by number). */
function entryOf(cache: Cache, db: OsvDatabase, pkg: Package, numbered: boolean): Entry {
  let first = numbered ? undefined : cache.byPurl.get(pkg.purl);
  // A loop, not find(): no closure made for each package of each image.
  for (let e = first; e; e = e.next) if (same(e, pkg)) return e;
  if (cache.size >= MAX_ENTRIES) {
    clear(cache);
    first = undefined;
  }
  const queries = queriesFor(pkg);
  const lookups = lookupsOf(queries);
  // Most of a fleet's packages (about two thirds of the rescan bench's 652,513) are named by no record
  // at all: nothing to match, group or remember for them.
  const found = lookups.some((key) => db.recordsAt(key).length > 0) ? matchPackage(db, pkg, queries) : NO_FINDINGS;
  const none = found.length === 0;
  const made: Entry = {
    name: pkg.name,
    version: pkg.version,
    ecosystem: pkg.ecosystem,
    release: pkg.release,
    sourceName: pkg.sourceName,
    sourceVersion: pkg.sourceVersion,
    found: none ? NO_FINDINGS : found,
    ranks: none ? NO_RANKS : found.map(findingRank),
    keys: none ? NO_KEYS : found.map(findingKey),
    lookups,
    tally: none ? NO_TALLY : tallyOfFound(found),
    next: first,
    purl: pkg.purl,
    dropped: false,
  };
  if (!numbered) cache.byPurl.set(pkg.purl, made);
  for (const key of made.lookups) {
    const under = cache.byKey.get(key);
    if (under) under.push(made);
    else cache.byKey.set(key, [made]);
  }
  cache.size++;
  return made;
}

/** A package's findings per rank (0–9), then its fixable ones per severity rank (0–4), negligible ones aside: what countBySeverity counts. */
function tallyOfFound(found: readonly Finding[]): number[] {
  const out = new Array<number>(TALLY).fill(0);
  for (const f of found) {
    out[findingRank(f)]!++;
    if (f.fixable && !f.negligible) out[RANKS + severityRank(f.severity, false)]!++;
  }
  return out;
}
