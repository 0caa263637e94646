/** Matches catalogued packages against an OSV database and turns hits into findings. */
import { type Ecosystem, type Finding, type Package, type Severity, SEVERITIES, type SeverityCounts } from '../types';
import { comparatorFor } from '../versions';
import { type OsvDatabase, packageKey } from './database';
import { affectedEntryMatches } from './match';
import { recordSeverity } from './severity';

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
export function queriesFor(pkg: Package): { ecosystem: string; name: string; version: string }[] {
  let keys = [{ name: pkg.sourceName ?? pkg.name, version: pkg.sourceVersion ?? pkg.version }];
  if (BINARY_KEYED.has(pkg.ecosystem) && pkg.sourceName !== undefined && pkg.sourceName !== pkg.name) {
    keys = [{ name: pkg.name, version: pkg.version }, ...(pkg.sourceVersion === undefined || pkg.sourceVersion === pkg.version ? keys : [])];
  }
  const ecosystems = pkg.release ? [pkg.release, pkg.ecosystem] : [pkg.ecosystem];
  return ecosystems.flatMap((ecosystem) => keys.map((k) => ({ ecosystem, ...k })));
}

export function matchPackage(db: OsvDatabase, pkg: Package): Finding[] {
  const findings = new Map<string, Finding>();
  for (const q of queriesFor(pkg)) {
    const queried = packageKey(q.ecosystem, q.name);
    for (const record of db.lookup(q.ecosystem, q.name)) {
      if (findings.has(record.id)) continue;
      for (const entry of record.affected ?? []) {
        // The entry for this package in this release: a record may list several packages (each binary rpm of an erratum).
        if (!entry.package || packageKey(entry.package.ecosystem, entry.package.name) !== queried) continue;
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
