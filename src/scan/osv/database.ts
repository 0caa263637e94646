/**
 * An imported OSV data set, indexed by ecosystem and package name for constant-time lookup.
 * Immutable once built: a refresh builds a new database and swaps the reference (see OsvSource).
 */
import { createHash } from 'node:crypto';
import { byCodeUnits } from '../code-unit-order';
import { releaseScope } from '../ecosystems';
import { baseEcosystem } from '../versions';
import { type OsvRecord } from './schema';

/** PyPI names are compared normalised (PEP 503); other ecosystems are exact. */
export function normalizePackageName(ecosystem: string, name: string): string {
  return ecosystem.startsWith('PyPI') ? name.toLowerCase().replace(/[-_.]+/g, '-') : name;
}

/** What recordsAt gives for a key no record is under: one array, not one made per call (a fleet's packages mostly have none). */
const NO_RECORDS: readonly OsvRecord[] = Object.freeze([]);

/** The lookup key of a package: its release scope and normalised name. */
export const packageKey = (ecosystem: string, name: string): string => `${releaseScope(ecosystem)}\u0000${normalizePackageName(ecosystem, name)}`;

/** What was loaded for one base ecosystem ('Debian', 'npm'): its record count and when its data was current. */
export interface OsvEcosystemInfo {
  ecosystem: string;
  records: number;
  /** When the newest export/file holding its records was written or confirmed current upstream (ISO 8601). */
  updatedAt: string;
}

/** A data source that could not be read or fetched (the data loaded without it). */
export interface OsvLoadError {
  ecosystem?: string;
  source: string;
  message: string;
}

export interface OsvDatabaseInfo {
  version: string;
  importedAt: string;
  newestModified: string;
  records: number;
  /** Base ecosystems that had records, by name. */
  ecosystems: OsvEcosystemInfo[];
  errors: OsvLoadError[];
}

export interface OsvDatabaseMeta {
  /** Per base ecosystem, when its data was current (ms since epoch); default: importedAt. */
  updatedAt?: ReadonlyMap<string, number>;
  errors?: OsvLoadError[];
}

export class OsvDatabase {
  private readonly byPackage = new Map<string, OsvRecord[]>();
  readonly info: OsvDatabaseInfo;

  constructor(records: Iterable<OsvRecord>, importedAt = new Date(), meta: OsvDatabaseMeta = {}) {
    const hash = createHash('sha256');
    let count = 0;
    let newest = '';
    const ids = new Set<string>();
    const perEcosystem = new Map<string, number>();
    const all = [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const record of all) {
      if (ids.has(record.id) || record.withdrawn !== undefined) continue;
      ids.add(record.id);
      count++;
      hash.update(`${record.id}\u0000${record.modified}\n`);
      if (record.modified > newest) newest = record.modified;
      const seen = new Set<string>();
      const bases = new Set<string>();
      for (const affected of record.affected ?? []) {
        if (!affected.package) continue;
        bases.add(baseEcosystem(affected.package.ecosystem));
        const k = packageKey(affected.package.ecosystem, affected.package.name);
        if (seen.has(k)) continue;
        seen.add(k);
        const list = this.byPackage.get(k);
        if (list) list.push(record);
        else this.byPackage.set(k, [record]);
      }
      for (const base of bases) perEcosystem.set(base, (perEcosystem.get(base) ?? 0) + 1);
    }
    const ecosystems = [...perEcosystem.entries()]
      .sort(([a], [b]) => byCodeUnits(a, b))
      .map(([ecosystem, n]) => ({ ecosystem, records: n, updatedAt: new Date(meta.updatedAt?.get(ecosystem) ?? importedAt.getTime()).toISOString() }));
    this.info = {
      version: `sha256:${hash.digest('hex')}`,
      importedAt: importedAt.toISOString(),
      newestModified: newest,
      records: count,
      ecosystems,
      errors: meta.errors ?? [],
    };
  }

  /** Records with an `affected` entry for this ecosystem (e.g. 'Debian:12'; Red Hat and SUSE by release, see releaseScope) and package name. */
  lookup(ecosystem: string, name: string): readonly OsvRecord[] {
    return this.byPackage.get(packageKey(ecosystem, name)) ?? [];
  }

  /** The records under one package key (see packageKey). */
  recordsAt(key: string): readonly OsvRecord[] {
    return this.byPackage.get(key) ?? NO_RECORDS;
  }

  /** Every package key (see packageKey) with its records: what a fleet rescan fingerprints to find the packages new data changed. */
  packages(): IterableIterator<[string, readonly OsvRecord[]]> {
    return this.byPackage.entries();
  }
}

/**
 * True when two databases hold the very same record objects, in the same order, under `key`. A refresh
 * keeps an unchanged export entry's records as the same objects (the importer's ReusableEntries), so
 * the same objects are the same records; any other object counts as changed, whatever it holds.
 */
export function sameRecordsAt(before: OsvDatabase, after: OsvDatabase, key: string): boolean {
  const a = before.recordsAt(key);
  const b = after.recordsAt(key);
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The records under `key` that are not the same objects in both databases (see sameRecordsAt): removed, added or modified. */
export function differingRecordsAt(before: OsvDatabase, after: OsvDatabase, key: string): readonly OsvRecord[] {
  const byKey = differing(before, after);
  let out = byKey.get(key);
  if (out === undefined) {
    out = [];
    if (!sameRecordsAt(before, after, key)) {
      const was = before.recordsAt(key);
      const now = after.recordsAt(key);
      const wasSet = new Set(was);
      const nowSet = new Set(now);
      out = [...was.filter((r) => !nowSet.has(r)), ...now.filter((r) => !wasSet.has(r))];
    }
    byKey.set(key, Object.freeze(out));
  }
  return out;
}

/**
 * Each key's differing records: a delta's plan asks for those of the same few keys for every version
 * under them (a kernel's: thousands of records), from several places. Bounded by the newer database's keys.
 */
const differing = pairMemo<readonly OsvRecord[]>();

/**
 * A memo per pair of databases: the map of the newer one's last comparison, made anew when it is
 * compared with another. The older database is held weakly: once a delta's carry-over is done nothing
 * else needs it. Held strongly, it lived as long as the newer one and held the one before it through
 * its own entry, so every database a delta had compared stayed in a worker's heap, with everything
 * remembered per database (its hits, its groups).
 */
export function pairMemo<V>(): (before: OsvDatabase, after: OsvDatabase) => Map<string, V> {
  const memos = new WeakMap<OsvDatabase, { before: WeakRef<OsvDatabase>; byKey: Map<string, V> }>();
  return (before, after) => {
    let memo = memos.get(after);
    if (memo?.before.deref() !== before) memos.set(after, (memo = { before: new WeakRef(before), byKey: new Map() }));
    return memo.byKey;
  };
}
