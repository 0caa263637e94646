/** Matches catalogued packages against an OSV database and turns hits into findings. */
import { type Finding, type Package, type Severity, SEVERITIES, type SeverityCounts } from '../types';
import { comparatorFor } from '../versions';
import { type OsvDatabase } from './database';
import { affectedEntryMatches } from './match';
import { recordSeverity } from './severity';

/**
 * The (ecosystem, name, version) pairs a package is looked up under: OS packages by their source
 * package, in the release-scoped ecosystem ('Debian:12') and the bare one.
 */
export function queriesFor(pkg: Package): { ecosystem: string; name: string; version: string }[] {
  const name = pkg.sourceName ?? pkg.name;
  const version = pkg.sourceVersion ?? pkg.version;
  const ecosystems = pkg.release ? [pkg.release, pkg.ecosystem] : [pkg.ecosystem];
  return ecosystems.map((ecosystem) => ({ ecosystem, name, version }));
}

export function matchPackage(db: OsvDatabase, pkg: Package): Finding[] {
  const findings = new Map<string, Finding>();
  for (const q of queriesFor(pkg)) {
    for (const record of db.lookup(q.ecosystem, q.name)) {
      if (findings.has(record.id)) continue;
      for (const entry of record.affected ?? []) {
        if (entry.package?.ecosystem !== q.ecosystem) continue;
        const match = affectedEntryMatches(entry, q.ecosystem, q.version);
        if (!match.affected) continue;
        const cmp = comparatorFor(q.ecosystem);
        const fixedVersion = match.fixedVersions.find((f) => {
          try {
            return cmp ? cmp(f, q.version) > 0 : true;
          } catch {
            return false;
          }
        });
        const sev = recordSeverity(record, entry);
        findings.set(record.id, {
          id: record.id,
          aliases: record.aliases ?? [],
          package: { name: pkg.name, version: pkg.version, ecosystem: pkg.ecosystem, purl: pkg.purl, layer: pkg.layer },
          severity: sev.severity,
          ...(sev.score !== undefined ? { cvssScore: sev.score } : {}),
          ...(sev.vector !== undefined ? { cvssVector: sev.vector } : {}),
          fixable: fixedVersion !== undefined,
          ...(fixedVersion !== undefined ? { fixedVersion } : {}),
          ...(record.summary !== undefined ? { summary: record.summary } : {}),
        });
        break;
      }
    }
  }
  return [...findings.values()];
}

const SEVERITY_RANK: Record<Severity, number> = { CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3, UNKNOWN: 4 };

/** All findings of a package list, most severe first, then by id and package. */
export function matchPackages(db: OsvDatabase, packages: readonly Package[]): Finding[] {
  return packages
    .flatMap((p) => matchPackage(db, p))
    .sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || a.id.localeCompare(b.id) || a.package.purl.localeCompare(b.package.purl));
}

export function countBySeverity(findings: readonly Finding[], filter: (f: Finding) => boolean = () => true): SeverityCounts {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as SeverityCounts;
  for (const f of findings) if (filter(f)) counts[f.severity]++;
  return counts;
}
