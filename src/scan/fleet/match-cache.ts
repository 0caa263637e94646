/**
 * Matching for a fleet: images share most of their packages (one base image under hundreds of
 * applications, the same popular npm and PyPI releases), so each distinct package is matched once
 * per OSV database and its findings reused, stamped with the image's own layer. The result is what
 * matchPackages returns for the same packages (test/unit/scan/fleet.test.ts compares them).
 */
import { matchPackage } from '../osv/findings';
import { type OsvDatabase } from '../osv';
import { type Finding, type Package, type Severity } from '../types';

/** Distinct packages remembered per database; past it the cache starts over (memory stays bounded). */
const MAX_ENTRIES = 400_000;

const SEVERITY_RANK: Record<Severity, number> = { CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3, UNKNOWN: 4 };
const rank = (f: Finding) => SEVERITY_RANK[f.severity] + (f.negligible ? 10 : 0);
// String.prototype.localeCompare without arguments, as matchPackages orders; a collator is much faster.
const collator = new Intl.Collator();

const caches = new WeakMap<OsvDatabase, Map<string, Finding[]>>();

/** Everything matching reads of a package (the layer only ends up in the findings). */
function keyOf(p: Package): string {
  return `${p.ecosystem}\u0000${p.release ?? ''}\u0000${p.name}\u0000${p.version}\u0000${p.sourceName ?? ''}\u0000${p.sourceVersion ?? ''}\u0000${p.purl}`;
}

/** All findings of `packages`, in matchPackages' order. */
export function matchFleetPackages(db: OsvDatabase, packages: readonly Package[]): Finding[] {
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new Map()));
  const out: Finding[] = [];
  for (const pkg of packages) {
    const key = keyOf(pkg);
    let found = cache.get(key);
    if (!found) {
      if (cache.size >= MAX_ENTRIES) cache.clear();
      found = matchPackage(db, pkg);
      cache.set(key, found);
    }
    for (const f of found) out.push(f.package.layer === pkg.layer ? f : { ...f, package: { ...f.package, layer: pkg.layer } });
  }
  return out.sort((a, b) => rank(a) - rank(b) || collator.compare(a.id, b.id) || collator.compare(a.package.purl, b.package.purl));
}
