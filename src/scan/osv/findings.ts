/** Matches catalogued packages against an OSV database and turns hits into findings. */
import { createHash } from 'node:crypto';
import { byCodeUnits } from '../code-unit-order';
import { type Ecosystem, type Finding, type Package, SEVERITIES, type SeverityCounts } from '../types';
import { findingRank } from '../finding-rank';
import { heapBound } from '../heap-bound';
import { comparatorFor } from '../versions';
import { differingRecordsAt, normalizePackageName, type OsvDatabase, packageKey, pairMemo } from './database';
import { type OsvAffected, type OsvRecord } from './schema';
import { affectedEntryMatches } from './match';
import { recordSeverity, type RecordSeverity } from './severity';

/**
 * Ecosystems whose advisories name binary packages (each rpm of an erratum, e.g. openssl-libs) rather
 * than, or as well as, the source package the OSV schema describes: their packages are looked up by
 * their own name and version, and by their source package only when built with the source's own
 * version (a subpackage with a version of its own, like perl-Carp 1.50 from perl 5.32.1, may have an
 * epoch of its own too, so its source's epoch is unknown and a comparison would mislead).
 */
const BINARY_KEYED: ReadonlySet<Ecosystem> = new Set<Ecosystem>(['Red Hat', 'Rocky Linux', 'AlmaLinux']);

/**
 * The (ecosystem, name, version) triples a package is looked up under: OS packages by their source
 * package (BINARY_KEYED ones as above), in the release-scoped ecosystem ('Debian:12') and the bare one.
 */
export function queriesFor(pkg: Pick<Package, 'name' | 'version' | 'ecosystem' | 'release' | 'sourceName' | 'sourceVersion'>): Query[] {
  let keys = [{ name: pkg.sourceName ?? pkg.name, version: pkg.sourceVersion ?? pkg.version }];
  if (BINARY_KEYED.has(pkg.ecosystem) && pkg.sourceName !== undefined && pkg.sourceName !== pkg.name) {
    keys = [{ name: pkg.name, version: pkg.version }, ...(pkg.sourceVersion === undefined || pkg.sourceVersion === pkg.version ? keys : [])];
  }
  const ecosystems = pkg.release ? [pkg.release, pkg.ecosystem] : [pkg.ecosystem];
  return ecosystems.flatMap((ecosystem) => keys.map((k) => ({ ecosystem, ...k })));
}

/** One (ecosystem, name, version) lookup of the matcher (queriesFor). */
export type Query = { ecosystem: string; name: string; version: string };

/** A record that matched a package, before grouping. */
interface Hit {
  finding: Finding;
  record: OsvRecord;
}

/**
 * The records under one query that affect its version, each with the first of its entries for the
 * queried package that matched (a record may list several packages: each binary rpm of an erratum).
 * What matchPackage makes findings of, and what a fleet rescan digests per package version.
 */
function queryHits(db: OsvDatabase, q: Query): readonly QueryHit[] {
  const memo = memoOf(db);
  const key = queryMemoKey(q);
  let hits = memo.get(key);
  if (hits === undefined) {
    const found = hitsOf(db, q);
    hits = found.length === 0 ? NO_HITS : found;
    remember(memo, key, hits);
  }
  return hits;
}

/**
 * Remembers the hits of `q` in `after` as made of its hits remembered in `before`, where `differing`
 * are the records under q's package key that are not the same objects in both (differingRecordsAt):
 * the others hit exactly as they did (a record's hit depends on the record and the query alone), so
 * only the differing ones are matched, and the hits are listed in `after`'s record order as hitsOf
 * lists them. A delta's plan digests the versions a changed record touches under packages with
 * thousands of records (a kernel's CVEs): matching every record again took most of its time. False
 * when `before` does not remember `q` (nothing carried: queryHits matches it when asked).
 */
export function carryQueryHits(before: OsvDatabase, after: OsvDatabase, q: Query, differing: readonly OsvRecord[]): boolean {
  const key = queryMemoKey(q);
  const memo = memoOf(after);
  if (memo.has(key)) return true;
  const had = rememberedHits.get(before)?.get(key);
  if (had === undefined) return false;
  if (differing.length === 0) {
    remember(memo, key, had);
    return true;
  }
  const changed = new Set(differing);
  const byRecord = new Map<OsvRecord, QueryHit>();
  for (const hit of had) if (!changed.has(hit.record)) byRecord.set(hit.record, hit);
  for (const hit of hitsIn(differing, q)) byRecord.set(hit.record, hit);
  const hits: QueryHit[] = [];
  // A removed record is not under the key in `after`: its hit is left out here.
  if (byRecord.size > 0)
    for (const record of after.lookup(q.ecosystem, q.name)) {
      const hit = byRecord.get(record);
      if (hit !== undefined) hits.push(hit);
    }
  remember(memo, key, hits.length === 0 ? NO_HITS : hits);
  return true;
}

/**
 * A query's key in the memo: its name normalised as lookups normalise it (a query's hits depend on its
 * package key, ecosystem and version alone), so a PyPI package matched by its own name ('Py_Pkg') and
 * its version digested by the index's ('py-pkg') share one entry.
 */
const queryMemoKey = (q: Query): string => `${q.ecosystem}\u0000${normalizePackageName(q.ecosystem, q.name)}\u0000${q.version}`;

function memoOf(db: OsvDatabase): Map<string, readonly QueryHit[]> {
  let memo = rememberedHits.get(db);
  if (memo === undefined) rememberedHits.set(db, (memo = new Map()));
  return memo;
}

function remember(memo: Map<string, readonly QueryHit[]>, key: string, hits: readonly QueryHit[]): void {
  if (memo.size >= MAX_REMEMBERED_QUERIES) memo.clear();
  memo.set(key, hits);
}

/**
 * Each database's hits per query, remembered: a database never changes once built, and the same
 * queries come again. A full fleet rescan's plan digests every version the fleet holds
 * (queryHitsDigest), then its matcher matches the packages of those same versions; a delta's plan
 * digests the versions under changed packages, whose packages the matcher then matches again; a scan
 * stage matches the same base image packages image after image. Bounded (a database of another day
 * starts its own): past the bound the memo starts over.
 */
const rememberedHits = new WeakMap<OsvDatabase, Map<string, readonly QueryHit[]>>();
const NO_HITS: readonly QueryHit[] = Object.freeze([]);
/**
 * Queries remembered per database: at most 1,000,000, and no more than 5 % of the heap limit holds at
 * about 150 bytes a query with its hits (the rescan bench's 350,000 versions of 3,000 images took 49 MB
 * more heap); a worker given a smaller heap remembers fewer.
 */
const MAX_REMEMBERED_QUERIES = heapBound({ share: 0.05, entryBytes: 150, min: 10_000, max: 1_000_000 });

function hitsOf(db: OsvDatabase, q: Query): QueryHit[] {
  const out: QueryHit[] = [];
  const cmp = comparatorFor(q.ecosystem);
  for (const { record, entries } of keyedRecords(db, packageKey(q.ecosystem, q.name))) {
    const hit = firstHit(record, entries, q, cmp);
    if (hit) out.push(hit);
  }
  return out;
}

/** A record under a package key, with its `affected` entries for that key (most records: one). */
interface KeyedRecord {
  record: OsvRecord;
  entries: readonly OsvAffected[];
}

/**
 * Per database, the records under each package key queried, each with its entries for the key: what
 * hitsIn picks out of every record for every query, picked out once per key. Every version of a
 * package is queried under the same key, and a kernel's key holds thousands of records.
 */
const keyedPerDb = new WeakMap<OsvDatabase, Map<string, readonly KeyedRecord[]>>();

function keyedRecords(db: OsvDatabase, key: string): readonly KeyedRecord[] {
  let perKey = keyedPerDb.get(db);
  if (perKey === undefined) keyedPerDb.set(db, (perKey = new Map()));
  let keyed = perKey.get(key);
  if (keyed === undefined) {
    keyed = db.recordsAt(key).map((record) => ({ record, entries: entriesFor(record, key) }));
    perKey.set(key, keyed);
  }
  return keyed;
}

function entriesFor(record: OsvRecord, key: string): OsvAffected[] {
  return (record.affected ?? []).filter((entry) => entry.package !== undefined && entryKey(entry, entry.package) === key);
}

/** The hit of the first of `entries` (a record's, for the queried package) that affects the queried version, if any. */
function firstHit(record: OsvRecord, entries: readonly OsvAffected[], q: Query, cmp: ((a: string, b: string) => number) | undefined): QueryHit | undefined {
  for (const entry of entries) {
    const match = affectedEntryMatches(entry, q.ecosystem, q.version);
    if (!match.affected) continue;
    const fixedVersion = match.fixedVersions.find((f) => {
      try {
        return cmp ? cmp(f, q.version) > 0 : true;
      } catch {
        return false;
      }
    });
    return { record, severity: entrySeverity(record, entry, q.ecosystem), fixedVersion };
  }
  return undefined;
}

/**
 * Whether any of `records` affects the query: given the records under the query's package key that
 * differ between two data sets (differingRecordsAt), the query's hits are the very same in both when
 * none of them affects it in the set that holds it.
 */
export function anyAffects(records: readonly OsvRecord[], q: Query): boolean {
  return hitsIn(records, q).next().done !== true;
}

function* hitsIn(records: readonly OsvRecord[], q: Query): Generator<QueryHit> {
  const queried = packageKey(q.ecosystem, q.name);
  const cmp = comparatorFor(q.ecosystem);
  for (const record of records) {
    const hit = firstHit(record, entriesFor(record, queried), q, cmp);
    if (hit) yield hit;
  }
}

/**
 * Remembered per affected entry: its package key and its severity in the queried ecosystem. Records are
 * never changed once imported, and a refresh keeps the unchanged ones as the same objects, so a fleet
 * rescan (every version of the fleet digested, every distinct package matched) would otherwise
 * normalise the same names and parse the same CVSS vectors once per query.
 */
const entryKeys = new WeakMap<OsvAffected, string>();
/** The last ecosystem each entry was queried in, with its severity there (an entry is looked up under one, in practice). */
const entrySeverities = new WeakMap<OsvAffected, { ecosystem: string; severity: RecordSeverity }>();

function entryKey(entry: OsvAffected, pkg: { ecosystem: string; name: string }): string {
  let key = entryKeys.get(entry);
  if (key === undefined) entryKeys.set(entry, (key = packageKey(pkg.ecosystem, pkg.name)));
  return key;
}

function entrySeverity(record: OsvRecord, entry: OsvAffected, ecosystem: string): RecordSeverity {
  const known = entrySeverities.get(entry);
  if (known?.ecosystem === ecosystem) return known.severity;
  const severity = recordSeverity(record, entry, ecosystem);
  entrySeverities.set(entry, { ecosystem, severity });
  return severity;
}

interface QueryHit {
  record: OsvRecord;
  severity: RecordSeverity;
  /** The lowest fixed version above the queried one, if any. */
  fixedVersion: string | undefined;
}

/**
 * A digest of everything matching reads of the records that affect one (ecosystem, name, version)
 * query: ids, the names they are grouped by, summary, severity, fix. Two databases with the same
 * digest for every query of a package give that package the same findings; '' when no record
 * affects the version.
 */
export function queryHitsDigest(db: OsvDatabase, q: Query): string {
  const hits = queryHits(db, q);
  if (hits.length === 0) return '';
  // The JSON of [[id, names, aliases, summary, severity, fix], ...], each record's and severity's part
  // serialized once: a full rescan digests every version of the fleet, most of them hit by records of
  // the same few packages.
  const parts: string[] = [];
  for (const { record, severity, fixedVersion } of hits)
    parts.push(`${recordPart(record)},${severityPart(severity)},${fixedVersion === undefined ? 'null' : JSON.stringify(fixedVersion)}]`);
  return createHash('sha1')
    .update(`[${parts.join(',')}]`)
    .digest('base64url');
}

const recordParts = new WeakMap<OsvRecord, string>();
const severityParts = new WeakMap<RecordSeverity, string>();

/** `[id,names,aliases,summary` of a record's hit part (queryHitsDigest). */
function recordPart(record: OsvRecord): string {
  let part = recordParts.get(record);
  if (part === undefined) {
    const json = JSON.stringify([record.id, names(record), record.aliases ?? [], record.summary ?? null]);
    recordParts.set(record, (part = json.slice(0, -1)));
  }
  return part;
}

function severityPart(severity: RecordSeverity): string {
  let part = severityParts.get(severity);
  if (part === undefined) severityParts.set(severity, (part = JSON.stringify(severity)));
  return part;
}

/** The findings of `pkg` in `db`; `queries`: its queriesFor(), when the caller has made them already. */
export function matchPackage(db: OsvDatabase, pkg: Package, queries: readonly Query[] = queriesFor(pkg)): Finding[] {
  const { hits, queries: hitBy } = packageHits(db, pkg, queries);
  return groupHits(
    hits.map((h, i) => ({ finding: findingOf(pkg, h, hitBy[i]!), record: h.record })),
    comparatorFor(pkg.release ?? pkg.ecosystem),
  );
}

/**
 * The findings matchPackage gives for `pkg` whose group holds one of `records`, made alone: the
 * records of a package's hits are grouped by name first, and only the groups holding one of them
 * become findings. What a delta's plan compares for a version whose records changed (`records`: those
 * that differ), under packages with hundreds of findings of which a change reaches one or two.
 */
export function findingsHolding(db: OsvDatabase, pkg: Package, records: ReadonlySet<OsvRecord>): Finding[] {
  const { hits, queries } = packageHits(db, pkg);
  if (!hits.some((h) => records.has(h.record))) return [];
  // Only hits grouped, among all the records under the package's keys, with one of `records` can be
  // grouped with one among the hits (a path of shared names between hits is one between records too):
  // the others are left out before grouping (most of a kernel's thousands).
  const near = recordGroups(db, pkg);
  const reached = new Set<string>();
  for (const r of records) {
    const root = near.get(r);
    if (root !== undefined) reached.add(root);
  }
  const candidates: number[] = [];
  hits.forEach((h, i) => {
    if (reached.has(near.get(h.record)!)) candidates.push(i);
  });
  const rootOf = groupRoots(candidates.map((i) => hits[i]!.record));
  const held = new Set<string>();
  for (const i of candidates) if (records.has(hits[i]!.record)) held.add(rootOf(hits[i]!.record));
  // Whole groups: grouped again on their own, they give the findings they give among all the hits.
  const kept: Hit[] = [];
  for (const i of candidates) {
    const h = hits[i]!;
    if (held.has(rootOf(h.record))) kept.push({ finding: findingOf(pkg, h, queries[i]!), record: h.record });
  }
  return groupHits(kept, comparatorFor(pkg.release ?? pkg.ecosystem));
}

/**
 * matchPackage(after, pkg), made of `found`, what matchPackage(before, pkg) gave: only the findings a
 * record that differs between the two (differingRecordsAt, under the package's keys) can reach are
 * made again, the others handed on as the very same objects. A delta's refresh changes one or two
 * findings of packages that hold hundreds (a kernel's), and a match cache entry patched so keeps the
 * objects the gate's facts and the decisions' JSON are remembered by (policy/stored-items.ts).
 *
 * Which findings can change: those whose records share a group (groupRoots), among every record under
 * the package's keys in either data set, with a differing record, closed over both sets (reachedIds):
 * a withdrawn record may have joined two groups that stand apart now, a new one may join two. Any
 * other finding's group is made of records that are the same objects in both sets, grouped with none
 * of the reached ones in either: the same hits, grouped alike, give the same finding. Matching the
 * reached records' hits again, alone, gives the reached groups whole: no group holds both.
 */
export function carryFindings(before: OsvDatabase, after: OsvDatabase, pkg: Package, found: readonly Finding[]): readonly Finding[] {
  const reached = reachedIds(before, after, pkg);
  if (reached.size === 0) return found;
  const kept = found.filter((f) => !f.ids.some((id) => reached.has(id)));
  const { hits, queries } = packageHits(after, pkg);
  const again: Hit[] = [];
  for (let i = 0; i < hits.length; i++) {
    const h = hits[i]!;
    if (reached.has(h.record.id)) again.push({ finding: findingOf(pkg, h, queries[i]!), record: h.record });
  }
  return again.length === 0 ? kept : kept.concat(groupHits(again, comparatorFor(pkg.release ?? pkg.ecosystem)));
}

/**
 * The ids of the records under a package's keys whose findings a change from `before` to `after` can
 * reach (carryFindings): the differing records' ids, grown until every group, in either set, that holds
 * a record of one of them has all its records' ids in. Ids, not records: the hits of a package's
 * queries are told apart by id (packageHits), and a finding lists its records' ids. Per pair of sets
 * and list of keys, made once for every version of the package.
 */
function reachedIds(before: OsvDatabase, after: OsvDatabase, pkg: Package): ReadonlySet<string> {
  const keys = lookupKeys(pkg);
  const id = keys.join('\u0001');
  const byKeys = reachedPerPair(before, after);
  let ids = byKeys.get(id);
  if (ids === undefined) {
    const grown = new Set(keys.flatMap((k) => differingRecordsAt(before, after, k)).map((r) => r.id));
    if (grown.size > 0) closeOver(grown, [recordGroups(before, pkg), recordGroups(after, pkg)]);
    byKeys.set(id, (ids = grown));
  }
  return ids;
}
const reachedPerPair = pairMemo<ReadonlySet<string>>();

/** Grows `ids` until every group of each grouping that holds a record of one of them has all its records' ids in it. */
function closeOver(ids: Set<string>, groupings: ReadonlyArray<ReadonlyMap<OsvRecord, string>>): void {
  for (let grew = true; grew;) {
    grew = false;
    for (const groups of groupings) {
      const roots = new Set<string>();
      for (const [record, root] of groups) if (ids.has(record.id)) roots.add(root);
      if (roots.size === 0) continue;
      for (const [record, root] of groups)
        if (roots.has(root) && !ids.has(record.id)) {
          ids.add(record.id);
          grew = true;
        }
    }
  }
}

/** The database keys a package is looked up under (its queries'), each once, in its queries' order. */
function lookupKeys(pkg: Pick<Package, 'name' | 'version' | 'ecosystem' | 'release' | 'sourceName' | 'sourceVersion'>): string[] {
  return keysOf(queriesFor(pkg));
}

/** The database keys of `queries` (a package's queriesFor()), each once, in their order. */
export function keysOf(queries: readonly Query[]): string[] {
  return [...new Set(queries.map((q) => packageKey(q.ecosystem, q.name)))];
}

/**
 * The group (groupRoots) of every record under the keys a package is looked up under, grouped all
 * together whatever version they affect: per database and list of keys, made once for every version
 * of the package (findingsHolding, carryFindings).
 */
function recordGroups(db: OsvDatabase, pkg: Package): ReadonlyMap<OsvRecord, string> {
  const keys = lookupKeys(pkg);
  const id = keys.join('\u0001');
  let perKeys = recordGroupsPerDb.get(db);
  if (perKeys === undefined) recordGroupsPerDb.set(db, (perKeys = new Map()));
  let groups = perKeys.get(id);
  if (groups === undefined) {
    const all = [...new Set(keys.flatMap((k) => db.recordsAt(k)))];
    const rootOf = groupRoots(all);
    groups = new Map(all.map((r) => [r, rootOf(r)]));
    perKeys.set(id, groups);
  }
  return groups;
}
const recordGroupsPerDb = new WeakMap<OsvDatabase, Map<string, ReadonlyMap<OsvRecord, string>>>();

/** The hits of a package's queries (`asked`: queriesFor), each record once (from the first query that hits it), with that query. */
function packageHits(db: OsvDatabase, pkg: Package, asked: readonly Query[] = queriesFor(pkg)): { hits: readonly QueryHit[]; queries: readonly Query[] } {
  const qs = asked.map((query) => ({ query, hits: queryHits(db, query) }));
  const hitting = qs.filter((q) => q.hits.length > 0);
  // One query with hits (a language package; a Debian one whose bare ecosystem has none): its hits are of distinct records already.
  if (hitting.length <= 1) {
    const { query, hits } = hitting[0] ?? { query: qs[0]!.query, hits: NO_HITS };
    return { hits, queries: hits.map(() => query) };
  }
  const seen = new Set<string>();
  const hits: QueryHit[] = [];
  const queries: Query[] = [];
  for (const { query, hits: found } of hitting)
    for (const hit of found) {
      if (seen.has(hit.record.id)) continue;
      seen.add(hit.record.id);
      hits.push(hit);
      queries.push(query);
    }
  return { hits, queries };
}

function findingOf(pkg: Package, { record, severity: sev, fixedVersion }: QueryHit, q: Query): Finding {
  // Source-keyed: the advisory names the source package, so its fixed versions are the source's (no binNMU suffix, no binary-only epoch).
  const bySource = q.name !== pkg.name || q.version !== pkg.version;
  // Built property by property, in the order the finding's JSON has always had, rather than spreading a small
  // object for each optional property: a fleet's first rescan makes about a million findings.
  const found: Finding['package'] = { name: pkg.name, version: pkg.version, ecosystem: pkg.ecosystem, purl: pkg.purl, layer: pkg.layer };
  if (pkg.sourceName !== undefined && pkg.sourceName !== pkg.name) found.sourceName = pkg.sourceName;
  if (pkg.sourceVersion !== undefined && pkg.sourceVersion !== pkg.version) found.sourceVersion = pkg.sourceVersion;
  // `fixable` comes after the optional severity properties: set below, in its place.
  const finding = { id: record.id, ids: [record.id], aliases: record.aliases ?? [], package: found, severity: sev.severity } as Finding;
  if (sev.vendor) finding.vendorSeverity = sev.vendor;
  if (sev.score !== undefined) finding.cvssScore = sev.score;
  if (sev.vector !== undefined) finding.cvssVector = sev.vector;
  if (sev.cvssSeverity !== undefined) finding.cvssSeverity = sev.cvssSeverity;
  if (sev.negligible) finding.negligible = true;
  finding.fixable = fixedVersion !== undefined;
  if (fixedVersion !== undefined) {
    finding.fixedVersion = fixedVersion;
    if (bySource) finding.fixedIn = { name: q.name, version: fixedVersion, kind: 'source' };
  }
  if (record.summary !== undefined) finding.summary = record.summary;
  return finding;
}

/**
 * The names under which a record describes one vulnerability: its id, its aliases, and its
 * `upstream` or `related` entry when it has exactly one (DEBIAN-CVE-2024-1 upstream CVE-2024-1; a
 * DSA fixing three CVEs names three vulnerabilities, and is grouped with none of them).
 */
function names(record: OsvRecord): string[] {
  const single = (list: string[] | undefined) => (list?.length === 1 ? list : []);
  return [record.id, ...(record.aliases ?? []), ...single(record.upstream), ...single(record.related)];
}

/**
 * One finding per vulnerability: records of one package that share a name (connected through ids,
 * aliases and single upstream/related entries) become one finding at the highest severity of the
 * group, listing every record id; fixable when any record names a fix, at the highest fixed version
 * among them (the version that fixes them all).
 */
function groupHits(hits: Hit[], cmp: ((a: string, b: string) => number) | undefined): Finding[] {
  const rootOf = groupRoots(hits.map((h) => h.record));
  const groups = new Map<string, Hit[]>();
  for (const hit of hits) {
    const root = rootOf(hit.record);
    const list = groups.get(root);
    if (list) list.push(hit);
    else groups.set(root, [hit]);
  }
  const out: Finding[] = [];
  for (const members of groups.values()) {
    const sorted = members.map((m) => m.finding).sort((a, b) => findingRank(a) - findingRank(b) || byCodeUnits(a.id, b.id));
    const head = sorted[0]!;
    if (sorted.length === 1) {
      out.push(head);
      continue;
    }
    const ids = sorted.map((f) => f.id);
    const idSet = new Set(ids.map((i) => i.toUpperCase()));
    const aliases = [...new Set(sorted.flatMap((f) => f.aliases))].filter((a) => !idSet.has(a.toUpperCase())).sort();
    const fixes = sorted.filter((f) => f.fixedVersion !== undefined);
    const safeCmp = (a: string, b: string) => {
      try {
        return cmp ? cmp(a, b) : 0;
      } catch {
        return 0;
      }
    };
    const fix = fixes.sort((a, b) => safeCmp(b.fixedVersion!, a.fixedVersion!))[0];
    const cvss = sorted.filter((f) => f.cvssScore !== undefined).sort((a, b) => b.cvssScore! - a.cvssScore!)[0];
    const { fixedVersion: _fv, fixedIn: _fi, cvssScore: _cs, cvssVector: _cv, cvssSeverity: _cb, negligible: _n, ...base } = head;
    out.push({
      ...base,
      ids,
      aliases,
      ...(cvss ? { cvssScore: cvss.cvssScore!, cvssVector: cvss.cvssVector!, ...(cvss.cvssSeverity ? { cvssSeverity: cvss.cvssSeverity } : {}) } : {}),
      ...(sorted.every((f) => f.negligible) ? { negligible: true } : {}),
      fixable: sorted.some((f) => f.fixable),
      ...(fix ? { fixedVersion: fix.fixedVersion!, ...(fix.fixedIn ? { fixedIn: fix.fixedIn } : {}) } : {}),
    });
  }
  return out;
}

/**
 * The group of each of `records` (connected through shared names, case aside), named by its least
 * name: what groupHits makes one finding of.
 */
function groupRoots(records: readonly OsvRecord[]): (record: OsvRecord) => string {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let root = x;
    while (parent.get(root) !== undefined && parent.get(root) !== root) root = parent.get(root)!;
    parent.set(x, root);
    return root;
  };
  const union = (a: string, b: string) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb);
  };
  for (const record of records) {
    const [first, ...rest] = upperNames(record);
    find(first!);
    for (const n of rest) union(first!, n);
  }
  return (record) => find(upperNames(record)[0]!);
}

const namesUpper = new WeakMap<OsvRecord, readonly string[]>();

/** names(), upper-cased (ids and aliases are compared case aside), once per record. */
function upperNames(record: OsvRecord): readonly string[] {
  let upper = namesUpper.get(record);
  if (upper === undefined) namesUpper.set(record, (upper = names(record).map((n) => n.toUpperCase())));
  return upper;
}

/** Findings of one severity rank ordered by id, then by package purl (the same advisory on several packages), in code-unit order. */
export const compareFindingIds = (a: Finding, b: Finding): number => byCodeUnits(a.id, b.id) || byCodeUnits(a.package.purl, b.package.purl);

/** All findings of a package list, most severe first (negligible last), then by id and package (compareFindingIds). */
export function matchPackages(db: OsvDatabase, packages: readonly Package[]): Finding[] {
  return packages.flatMap((p) => matchPackage(db, p)).sort((a, b) => findingRank(a) - findingRank(b) || compareFindingIds(a, b));
}

/** Findings by severity; negligible ones are not counted (they are reported in the findings list). */
export function countBySeverity(findings: readonly Finding[], filter: (f: Finding) => boolean = () => true): SeverityCounts {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as SeverityCounts;
  for (const f of findings) if (!f.negligible && filter(f)) counts[f.severity]++;
  return counts;
}
