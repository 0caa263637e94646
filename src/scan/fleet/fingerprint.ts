/**
 * What a fleet rescan compares between two OSV data sets: one short hash per package key (ecosystem
 * release scope and normalised name, as the matcher looks packages up) over the ids and `modified`
 * times of its records. A key whose hash differs, appears or disappears is a package whose findings
 * may have changed; every other package matches exactly as it did.
 */
import { createHash } from 'node:crypto';
import { type OsvDatabase, type OsvRecord } from '../osv';
import { anyAffects, carryQueryHits, findingsHolding, queriesFor, queryHitsDigest } from '../osv/findings';
import { findingRank } from '../finding-rank';
import { findingKey } from './finding-key';
import { differingRecordsAt, packageKey, sameRecordsAt } from '../osv/database';
import { type Ecosystem, type Package } from '../types';

/**
 * Bumped whenever matching itself changes (version comparison, grouping, severity): a fingerprint
 * taken under another matcher says nothing about what the current one finds, so the rescan is full.
 */
export const MATCHER_VERSION = '1';

export type OsvFingerprint = ReadonlyMap<string, string>;

/**
 * The fingerprint of `db`, made once per database. With `before` (the data the last rescan matched,
 * still in memory) and its fingerprint made: a key whose records are the very same objects in both
 * (sameRecordsAt) keeps its hash, and only the others are hashed. A refresh reuses every unchanged
 * export entry's record, so a day's delta hashes a few hundred keys rather than every one of the
 * data's (about 100,000 in the rescan bench; 0.26 s of a delta's plan).
 */
export function osvFingerprint(db: OsvDatabase, before?: OsvDatabase): OsvFingerprint {
  let out = fingerprints.get(db);
  if (out !== undefined) return out;
  const had = before === undefined ? undefined : fingerprints.get(before);
  const made = new Map<string, string>();
  for (const [key, records] of db.packages()) {
    const kept = had !== undefined && sameRecordsAt(before!, db, key) ? had.get(key) : undefined;
    made.set(key, kept ?? keyHash(records));
  }
  fingerprints.set(db, (out = made));
  return out;
}

const fingerprints = new WeakMap<OsvDatabase, OsvFingerprint>();

function keyHash(records: readonly OsvRecord[]): string {
  const hash = createHash('sha1');
  // The database keeps each key's records in id order: the same records hash the same.
  for (const record of records) hash.update(`${record.id}\u0000${record.modified}\n`);
  return hash.digest('base64url').slice(0, 16);
}

/** Package keys whose records differ between the two fingerprints (changed, added or removed). */
export function changedPackages(previous: ReadonlyMap<string, string>, current: ReadonlyMap<string, string>): string[] {
  const changed: string[] = [];
  for (const [key, hash] of current) if (previous.get(key) !== hash) changed.push(key);
  for (const key of previous.keys()) if (!current.has(key)) changed.push(key);
  return changed;
}

/** What an image is indexed by: every key the matcher looks its packages up under, and every version it looks up under each. */
export interface ImageIndex {
  keys: string[];
  /** Package versions (see versionEntry), each once. */
  versions: string[];
}

/**
 * One (ecosystem, name, version) query of the matcher, as the fleet index keeps it: the package key,
 * then the query's own ecosystem and version (the name is the key's). Separated by U+0001, which
 * neither keys nor versions hold.
 */
export const versionEntry = (key: string, ecosystem: string, version: string): string => `${key}\u0001${ecosystem}\u0001${version}`;

/** The package key of a version entry. */
export const keyOfVersion = (entry: string): string => entry.slice(0, entry.indexOf('\u0001'));

/** The query a version entry stands for (the key's name is already normalised, as lookups normalise it). */
export function queryOfVersion(entry: string): { ecosystem: string; name: string; version: string } {
  const [key, ecosystem, version] = entry.split('\u0001') as [string, string, string];
  return { ecosystem, name: key.slice(key.indexOf('\u0000') + 1), version };
}

export function imageIndex(packages: readonly Package[]): ImageIndex {
  const keys = new Set<string>();
  const versions = new Set<string>();
  for (const pkg of packages)
    for (const q of queriesFor(pkg)) {
      const key = packageKey(q.ecosystem, q.name);
      keys.add(key);
      versions.add(versionEntry(key, q.ecosystem, q.version));
    }
  return { keys: [...keys], versions: [...versions] };
}

/**
 * The digest of each version entry's hits in `db` (queryHitsDigest; '' = no record affects it): what
 * a delta compares with the last rescan's to find the versions whose findings changed. With `before`
 * (the data the last rescan matched, still in memory), the hits it remembers are carried over
 * (carryQueryHits) rather than matched again.
 */
export function versionDigests(db: OsvDatabase, entries: Iterable<string>, before?: OsvDatabase): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of entries) {
    // An entry starts with its package key: no records under it (a package no advisory names), no hits, told without
    // splitting the entry or normalising its name again.
    const key = keyOfVersion(entry);
    if (db.recordsAt(key).length === 0) {
      out.set(entry, '');
      continue;
    }
    const q = queryOfVersion(entry);
    // `before`, the data the last rescan digested: its remembered hits are carried over, and only the records that differ matched.
    if (before) carryQueryHits(before, db, q, differingRecordsAt(before, db, key));
    out.set(entry, queryHitsDigest(db, q));
  }
  return out;
}

/**
 * The version entries whose hits may differ between `before` and `after`: those that a record under
 * their package key differing between the two (differingRecordsAt) affects in the data set holding it.
 * Every other entry is hit by the very same records, so its digest is the same in both.
 */
export function touchedVersions(before: OsvDatabase, after: OsvDatabase, entries: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const entry of entries) {
    const records = differingRecordsAt(before, after, keyOfVersion(entry));
    if (records.length > 0 && anyAffects(records, queryOfVersion(entry))) out.add(entry);
  }
  return out;
}

/**
 * The best rank (finding-rank.ts) among the findings that differ, between `before` and `after`, for
 * a package holding the version entry `entry` (Infinity: none differ; -1: no package can be made of
 * the entry, so any change counts). A package's findings come from its own queries alone (grouped
 * per package), and every package holding a release-scoped entry ('Debian:12', name, version) is
 * queried under it and its bare ecosystem's, in that order; a language package under its one entry.
 * So a package made of the entry finds what each of them finds, but for its name and purl: the same
 * findings differ, at the same ranks. Any other entry gives -1: a bare entry of an OS ecosystem (its
 * release unknown), the Red Hat family's (binary-keyed: the source package unknown), and the other
 * rpm distributions' (whose packages' ecosystem and release need not share a family: SLE Micro).
 */
export function versionChangeRank(before: OsvDatabase, after: OsvDatabase, entry: string): number {
  const pkg = packageOfVersion(entry);
  if (!pkg) return -1;
  // Only the findings whose group holds a record that differs are made (findingsHolding): any other
  // finding of either set is either in both, or a part of a group of the other set that holds one
  // (its records are the same objects in both sets, and hit and group alike) and differs too, at a
  // rank no worse (a group ranks at its best member), so it cannot lower the rank found.
  const differing = new Set(queriesFor(pkg).flatMap((q) => differingRecordsAt(before, after, packageKey(q.ecosystem, q.name))));
  if (differing.size === 0) return Number.POSITIVE_INFINITY;
  const was = findingsHolding(before, pkg, differing);
  const now = findingsHolding(after, pkg, differing);
  const wasKeys = new Set(was.map(findingKey));
  const nowKeys = new Set(now.map(findingKey));
  let rank = Number.POSITIVE_INFINITY;
  for (const f of was) if (!nowKeys.has(findingKey(f))) rank = Math.min(rank, findingRank(f));
  for (const f of now) if (!wasKeys.has(findingKey(f))) rank = Math.min(rank, findingRank(f));
  return rank;
}

/** Ecosystems whose packages are queried under their one bare entry (never with a release). */
const LANGUAGE_ECOSYSTEMS: ReadonlySet<string> = new Set<Ecosystem>(['npm', 'PyPI', 'Go', 'Maven']);
/** Ecosystems whose packages (dpkg, apk) are queried by source under their release ('Debian:12') and then the bare ecosystem. */
const RELEASE_ECOSYSTEMS: ReadonlySet<string> = new Set<Ecosystem>(['Debian', 'Ubuntu', 'Alpine']);

/** A package queried exactly as every package holding `entry` is (see versionChangeRank), or undefined. */
function packageOfVersion(entry: string): Package | undefined {
  const { ecosystem, name, version } = queryOfVersion(entry);
  const colon = ecosystem.indexOf(':');
  const base = colon < 0 ? ecosystem : ecosystem.slice(0, colon);
  if (!(colon < 0 ? LANGUAGE_ECOSYSTEMS : RELEASE_ECOSYSTEMS).has(base)) return undefined;
  return {
    name,
    version,
    ecosystem: base as Ecosystem,
    ...(colon < 0 ? {} : { release: ecosystem }),
    purl: `pkg:generic/${encodeURIComponent(name)}@${encodeURIComponent(version)}`,
    layer: '',
    location: '',
  };
}
