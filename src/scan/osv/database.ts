/**
 * An imported OSV data set, indexed by ecosystem and package name for constant-time lookup.
 * Immutable once built: a refresh builds a new database and swaps the reference (see OsvSource).
 */
import { createHash } from 'node:crypto';
import { releaseScope } from '../ecosystems';
import { type OsvRecord } from './schema';

/** PyPI names are compared normalised (PEP 503); other ecosystems are exact. */
export function normalizePackageName(ecosystem: string, name: string): string {
  return ecosystem.startsWith('PyPI') ? name.toLowerCase().replace(/[-_.]+/g, '-') : name;
}

/** The lookup key of a package: its release scope and normalised name. */
export const packageKey = (ecosystem: string, name: string): string => `${releaseScope(ecosystem)}\u0000${normalizePackageName(ecosystem, name)}`;

export interface OsvDatabaseInfo {
  version: string;
  importedAt: string;
  newestModified: string;
  records: number;
}

export class OsvDatabase {
  private readonly byPackage = new Map<string, OsvRecord[]>();
  readonly info: OsvDatabaseInfo;

  constructor(records: Iterable<OsvRecord>, importedAt = new Date()) {
    const hash = createHash('sha256');
    let count = 0;
    let newest = '';
    const ids = new Set<string>();
    const all = [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const record of all) {
      if (ids.has(record.id) || record.withdrawn !== undefined) continue;
      ids.add(record.id);
      count++;
      hash.update(`${record.id}\u0000${record.modified}\n`);
      if (record.modified > newest) newest = record.modified;
      const seen = new Set<string>();
      for (const affected of record.affected ?? []) {
        if (!affected.package) continue;
        const k = packageKey(affected.package.ecosystem, affected.package.name);
        if (seen.has(k)) continue;
        seen.add(k);
        const list = this.byPackage.get(k);
        if (list) list.push(record);
        else this.byPackage.set(k, [record]);
      }
    }
    this.info = { version: `sha256:${hash.digest('hex')}`, importedAt: importedAt.toISOString(), newestModified: newest, records: count };
  }

  /** Records with an `affected` entry for this ecosystem (e.g. 'Debian:12'; Red Hat and SUSE by release, see releaseScope) and package name. */
  lookup(ecosystem: string, name: string): readonly OsvRecord[] {
    return this.byPackage.get(packageKey(ecosystem, name)) ?? [];
  }
}
