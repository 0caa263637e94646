/**
 * The data statement of a scan: which OSV data the packages were matched against, how old it is, and
 * what it cannot vouch for. A security gate fails closed on it: an image whose packages belong to an
 * ecosystem without records, or matched against stale data, was not checked, whatever the findings say.
 */
import { byCodeUnits } from '../code-unit-order';
import { type OsvDataVersion, type Package, type VulnerabilityDataProblem } from '../types';
import { type OsvDatabase } from './database';

/** '3d 4h', '5h 12m', '40s': ages as people read them in violations. */
export function formatAge(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d}d${h ? ` ${h}h` : ''}`;
  if (h > 0) return `${h}h${m ? ` ${m}m` : ''}`;
  if (m > 0) return `${m}m`;
  return `${Math.floor(seconds)}s`;
}

/**
 * OS packages of a distribution OSV publishes nothing for carry the ecosystem 'RPM' (see types.ts):
 * no data can cover them, which the statement says rather than hiding.
 */
const NO_PUBLISHER: Record<string, string> = { RPM: 'OSV publishes no advisories for this distribution' };

export function dataStatement(db: OsvDatabase, packages: readonly Package[], now: Date, maxAgeMs?: number): OsvDataVersion {
  const { version, importedAt, newestModified, records } = db.info;
  const ageOf = (iso: string) => Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  const ecosystems = db.info.ecosystems.map((e) => ({ ...e, ageSeconds: ageOf(e.updatedAt) }));
  const loaded = new Map(ecosystems.map((e) => [e.ecosystem, e]));
  const needed = new Map<string, number>();
  // Counted in runs (an image's packages come ecosystem by ecosystem): a fleet rescan counts every package
  // of every image, and a map update per package took about 1.3 s of a full rescan of 10,000 images.
  let run: string | undefined;
  let count = 0;
  for (const p of packages) {
    if (p.ecosystem === run) {
      count++;
      continue;
    }
    if (run !== undefined) needed.set(run, (needed.get(run) ?? 0) + count);
    run = p.ecosystem;
    count = 1;
  }
  if (run !== undefined) needed.set(run, (needed.get(run) ?? 0) + count);
  const maxAgeSeconds = maxAgeMs === undefined ? undefined : Math.round(maxAgeMs / 1000);

  const problems: VulnerabilityDataProblem[] = [];
  if (records === 0) {
    const failed = db.info.errors.length ? `; loading failed: ${db.info.errors[0]!.message}` : '';
    problems.push({ kind: 'empty', ecosystem: '*', packages: packages.length, message: `no vulnerability data loaded (0 OSV records)${failed}` });
  }
  for (const [ecosystem, count] of [...needed.entries()].sort(([a], [b]) => byCodeUnits(a, b))) {
    const data = loaded.get(ecosystem);
    const plural = count === 1 ? 'package' : 'packages';
    if (!data) {
      const why = NO_PUBLISHER[ecosystem] ?? db.info.errors.find((e) => e.ecosystem === ecosystem)?.message ?? 'no OSV records loaded for it';
      problems.push({
        kind: 'missing',
        ecosystem,
        packages: count,
        message: `no vulnerability data for ${ecosystem} (${why}): ${count} ${plural} not checked`,
      });
    } else if (maxAgeSeconds !== undefined && data.ageSeconds > maxAgeSeconds) {
      problems.push({
        kind: 'stale',
        ecosystem,
        packages: count,
        ageSeconds: data.ageSeconds,
        maxAgeSeconds,
        message: `vulnerability data for ${ecosystem} is ${formatAge(data.ageSeconds)} old (updated ${data.updatedAt}), older than the maximum ${formatAge(maxAgeSeconds)}: ${count} ${plural} checked against stale data`,
      });
    }
  }
  const relevant = needed.size ? ecosystems.filter((e) => needed.has(e.ecosystem)) : ecosystems;
  const ageSeconds = relevant.length ? Math.max(...relevant.map((e) => e.ageSeconds)) : ageOf(importedAt);
  return {
    version,
    importedAt,
    newestModified,
    records,
    ageSeconds,
    ecosystems,
    ...(maxAgeSeconds !== undefined ? { maxAgeSeconds } : {}),
    problems,
    ...(db.info.errors.length ? { loadErrors: db.info.errors.slice(0, 20) } : {}),
  };
}
