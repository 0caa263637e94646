/**
 * The scan stage's domain function: stream the image, catalogue its packages, match them against
 * OSV, check its hygiene, store the SBOM, and summarise for the gate.
 */
// The version alone: the registry module's graph (undici, the copy engine) is start-up time a local scan never uses.
import { version as CHAIN_VERSION } from '../../package.json';
import { catalogImage, catalogPolicy, type CatalogWarning } from './catalog';
import { checkHygiene, hygienePolicy } from './hygiene/checks';
import { type LayerProgress, loadImage } from './image/load';
import { type ImageSource, type Platform } from './image/source';
import { combinePolicies } from './layers/capture';
import { ScanGuard } from './layers/guard';
import { DEFAULT_LAYER_LIMITS, type LayerLimits } from './layers/limits';
import { countBySeverity, dataStatement, matchPackages, type OsvSource } from './osv';
import { type CycloneDxBom, packagesFromCycloneDx, type StoredScan, toCycloneDx } from './sbom/cyclonedx';
import { type SbomStore } from './sbom/store';
import { type PackageSource } from './sources';
import { type Finding, type OsvDataVersion, type Package, type SbomRef, type ScanSummary, type SeverityCounts } from './types';

/** Findings beyond this many (least severe first) are counted but left out of the summary the gate receives. */
export const MAX_SUMMARY_FINDINGS = 500;
/** Package sources kept in the summary (npm lockfiles list one per package). */
export const MAX_SUMMARY_SOURCES = 2000;

const scanPolicy = combinePolicies([catalogPolicy, hygienePolicy]);

export interface ScanImageDeps {
  source: ImageSource;
  /** Configured registry name (recorded in the summary) and host (for the SBOM's image name). */
  registryName: string;
  registryHost: string;
  osv: OsvSource;
  sbomStore: SbomStore;
  limits?: Partial<LayerLimits>;
  platform?: Platform;
  concurrency?: number;
  onProgress?: (p: LayerProgress) => void;
  now?: () => Date;
}

export interface ScanResult {
  summary: ScanSummary;
  packages: Package[];
  /** Every finding (the summary may be trimmed). */
  findings: Finding[];
  sbom: CycloneDxBom;
  /** Tar entries refused as unsafe (path traversal, over-long names). */
  refused: { name: string; reason: string; layer: string }[];
  /** What the catalogers could not read (corrupt or unsupported package databases, skipped records). */
  catalogWarnings: CatalogWarning[];
}

/** What a summary counts of an image's findings: all of them, those it keeps and those it leaves out. */
export interface FindingTally {
  /** By severity, negligible ones aside (countBySeverity). */
  counts: SeverityCounts;
  /** Fixable ones by severity, negligible ones aside. */
  fixable: SeverityCounts;
  negligible: number;
  total: number;
}

export function tallyOf(findings: readonly Finding[]): FindingTally {
  return {
    counts: countBySeverity(findings),
    fixable: countBySeverity(findings, (f) => f.fixable),
    negligible: findings.filter((f) => f.negligible).length,
    total: findings.length,
  };
}

/** `stored`: the stored scan, or its rescan view (the image, its OS and hygiene are what is read of it). */
export function summarize(
  stored: Pick<StoredScan, 'registry' | 'repository' | 'digest' | 'os' | 'hygiene'>,
  packages: Package[],
  findings: Finding[],
  osv: OsvDataVersion,
  sbom: SbomRef,
  now: Date,
): ScanSummary {
  return summarizeKept(stored, packages, findings.slice(0, MAX_SUMMARY_FINDINGS), tallyOf(findings), osv, sbom, now);
}

/**
 * summarize() of findings of which only the first MAX_SUMMARY_FINDINGS (`kept`) are at hand, with the
 * tally of all of them: what the fleet rescan's matcher gives, which never gathers the findings a
 * summary leaves out.
 */
export function summarizeKept(
  stored: Pick<StoredScan, 'registry' | 'repository' | 'digest' | 'os' | 'hygiene'>,
  packages: readonly Package[],
  kept: Finding[],
  tally: FindingTally,
  osv: OsvDataVersion,
  sbom: SbomRef,
  now: Date,
): ScanSummary {
  return {
    registry: stored.registry,
    repository: stored.repository,
    digest: stored.digest,
    scannedAt: now.toISOString(),
    ...(stored.os ? { os: stored.os } : {}),
    packageCount: packages.length,
    counts: tally.counts,
    fixable: tally.fixable,
    ...(tally.negligible ? { negligible: tally.negligible } : {}),
    findings: kept,
    ...(tally.total > kept.length ? { findingsOmitted: tally.total - kept.length } : {}),
    hygiene: stored.hygiene,
    osv,
    sbom,
  };
}

export async function scanImage(deps: ScanImageDeps, input: { repository: string; reference: string }): Promise<ScanResult> {
  const now = deps.now ?? (() => new Date());
  const db = await deps.osv.current();
  const guard = new ScanGuard({ ...DEFAULT_LAYER_LIMITS, ...deps.limits }, `${input.repository}@${input.reference}`);
  let image: Awaited<ReturnType<typeof loadImage>>;
  let catalog: Awaited<ReturnType<typeof catalogImage>>;
  try {
    image = await loadImage(deps.source, input.repository, input.reference, {
      policy: scanPolicy,
      guard,
      ...(deps.limits ? { limits: deps.limits } : {}),
      ...(deps.platform ? { platform: deps.platform } : {}),
      ...(deps.concurrency ? { concurrency: deps.concurrency } : {}),
      ...(deps.onProgress ? { onProgress: deps.onProgress } : {}),
    });
    catalog = await catalogImage({ tree: image.tree, arch: image.config.architecture ?? 'amd64' });
    guard.throwIfStopped();
  } catch (err) {
    // A stream stopped by the guard may surface as its own error first: the limit is the reason.
    guard.throwIfStopped();
    throw err;
  } finally {
    guard.dispose();
  }
  const { os, packages, warnings, sources } = catalog;
  const hygiene = checkHygiene({ tree: image.tree, user: image.config.config?.User, layerSizes: image.manifest.layers.map((l) => l.size) });
  const findings = matchPackages(db, packages);
  const osInfo = os ? { id: os.id, versionId: os.versionId, ...(os.prettyName ? { prettyName: os.prettyName } : {}) } : undefined;
  const sbom = toCycloneDx(
    { registryHost: deps.registryHost, repository: input.repository, digest: image.digest, ...(osInfo ? { os: osInfo } : {}), toolVersion: CHAIN_VERSION },
    packages,
    now(),
  );
  const stored: StoredScan = {
    registry: deps.registryName,
    repository: input.repository,
    digest: image.digest,
    scannedAt: now().toISOString(),
    ...(osInfo ? { os: osInfo } : {}),
    hygiene,
    sbom,
  };
  const ref = await deps.sbomStore.put(stored);
  const osvData = dataStatement(db, packages, now(), deps.osv.maxAgeMs);
  // Where packages come from is known from the layers only: the gate records it, rescans keep it.
  const summary: ScanSummary = { ...summarize(stored, packages, findings, osvData, ref, now()), sources: keepSources(sources) };
  return { summary, packages, findings, sbom, refused: image.refused, catalogWarnings: warnings };
}

/** Re-matches a stored SBOM against the current OSV data: no registry access at all. */
export async function rescanStored(deps: { osv: OsvSource; sbomStore: SbomStore; now?: () => Date }, digest: string): Promise<ScanResult | undefined> {
  const stored = await deps.sbomStore.get(digest);
  if (!stored) return undefined;
  const db = await deps.osv.current();
  const packages = packagesFromCycloneDx(stored.sbom);
  const findings = matchPackages(db, packages);
  const now = (deps.now ?? (() => new Date()))();
  return {
    summary: summarize(stored, packages, findings, dataStatement(db, packages, now, deps.osv.maxAgeMs), deps.sbomStore.ref(digest), now),
    packages,
    findings,
    sbom: stored.sbom,
    refused: [],
    catalogWarnings: [],
  };
}

/**
 * At most MAX_SUMMARY_SOURCES package sources, plus one of every (ecosystem, origin) beyond them, so
 * a trimmed summary still shows every host the image fetches from (the trustedSources rule fails
 * closed on what it sees).
 */
function keepSources(sources: readonly PackageSource[]): PackageSource[] {
  const origin = (s: PackageSource) => `${s.ecosystem} ${/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(s.url)?.[0] ?? s.url}`;
  const kept = sources.slice(0, MAX_SUMMARY_SOURCES);
  const seen = new Set(kept.map(origin));
  for (const s of sources.slice(MAX_SUMMARY_SOURCES)) {
    if (!seen.has(origin(s))) {
      seen.add(origin(s));
      kept.push(s);
    }
  }
  return kept;
}
