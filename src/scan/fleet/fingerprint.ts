/**
 * What a fleet rescan compares between two OSV data sets: one short hash per package key (ecosystem
 * release scope and normalised name, as the matcher looks packages up) over the ids and `modified`
 * times of its records. A key whose hash differs, appears or disappears is a package whose findings
 * may have changed; every other package matches exactly as it did.
 */
import { createHash } from 'node:crypto';
import { type OsvDatabase } from '../osv';
import { queriesFor, queryHitsDigest } from '../osv/findings';
import { packageKey } from '../osv/database';
import { type Package } from '../types';

/**
 * Bumped whenever matching itself changes (version comparison, grouping, severity): a fingerprint
 * taken under another matcher says nothing about what the current one finds, so the rescan is full.
 */
export const MATCHER_VERSION = '1';

export type OsvFingerprint = Map<string, string>;

export function osvFingerprint(db: OsvDatabase): OsvFingerprint {
  const out: OsvFingerprint = new Map();
  for (const [key, records] of db.packages()) {
    const hash = createHash('sha1');
    // The database keeps each key's records in id order: the same records hash the same.
    for (const record of records) hash.update(`${record.id}\u0000${record.modified}\n`);
    out.set(key, hash.digest('base64url').slice(0, 16));
  }
  return out;
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
 * a delta compares with the last rescan's to find the versions whose findings changed.
 */
export function versionDigests(db: OsvDatabase, entries: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of entries) {
    const q = queryOfVersion(entry);
    out.set(entry, db.lookup(q.ecosystem, q.name).length === 0 ? '' : queryHitsDigest(db, q));
  }
  return out;
}
