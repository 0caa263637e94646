/**
 * What a fleet rescan compares between two OSV data sets: one short hash per package key (ecosystem
 * release scope and normalised name, as the matcher looks packages up) over the ids and `modified`
 * times of its records. A key whose hash differs, appears or disappears is a package whose findings
 * may have changed; every other package matches exactly as it did.
 */
import { createHash } from 'node:crypto';
import { type OsvDatabase } from '../osv';
import { queriesFor } from '../osv/findings';
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

/** Every key the matcher looks `packages` up under: what an image is indexed by. */
export function imagePackageKeys(packages: readonly Package[]): string[] {
  const keys = new Set<string>();
  for (const pkg of packages) for (const q of queriesFor(pkg)) keys.add(packageKey(q.ecosystem, q.name));
  return [...keys];
}
