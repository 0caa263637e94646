import { type Finding, type OsvDataVersion, type ScanSummary } from '../scan';
import { type FindingFact, type ImageFacts, imageFactsSchema, type VulnerabilityDataFacts } from './image-facts';

/** What the scan does not know: provenance facts gathered by the build and the signature checks. */
export interface ProvenanceFacts {
  baseImage?: { reference: string; digest?: string };
  signatures?: Array<{ keyId: string }>;
  attestations?: Array<{ predicateType: string; keyId?: string }>;
}

/** Maps the scanner's summary onto the policy's facts (the scanner reports setuid and setgid files together). */
export function factsFromScan(scan: ScanSummary, provenance: ProvenanceFacts = {}): ImageFacts {
  return imageFactsSchema.parse({
    registry: scan.registry,
    repository: scan.repository,
    digest: scan.digest,
    scannedAt: scan.scannedAt,
    findings: findingFacts(scan.findings),
    ...(vulnerabilityDataFacts(scan.osv) ? { vulnerabilityData: vulnerabilityDataFacts(scan.osv) } : {}),
    hygiene: {
      setuidFiles: scan.hygiene.setuidFiles,
      setgidFiles: [],
      shells: scan.hygiene.shells,
      networkTools: scan.hygiene.networkTools,
      user: scan.hygiene.user,
      sizeBytes: scan.hygiene.totalSizeBytes,
      layerCount: scan.hygiene.layerCount,
      efficiency: scan.hygiene.efficiency,
      privateKeys: scan.hygiene.privateKeys,
    },
    ...(provenance.baseImage ? { baseImage: provenance.baseImage } : {}),
    signatures: provenance.signatures ?? [],
    attestations: provenance.attestations ?? [],
    vex: scan.vex?.statements ?? [],
    sources: scan.sources ?? [],
  });
}

/** The scanner's findings as the policy sees them. */
export function findingFacts(findings: readonly Finding[]): FindingFact[] {
  return findings.map((f) => ({
    id: f.id,
    aliases: f.aliases,
    package: f.package.name,
    version: f.package.version,
    ecosystem: f.package.ecosystem,
    severity: f.severity,
    fixable: f.fixable,
    ...(f.fixedVersion !== undefined ? { fixedVersion: f.fixedVersion } : {}),
    ids: f.ids ?? [f.id],
    ...(f.vendorSeverity ? { vendorSeverity: { source: f.vendorSeverity.source, rating: f.vendorSeverity.rating } } : {}),
    ...(f.cvssScore !== undefined ? { cvssScore: f.cvssScore } : {}),
    negligible: f.negligible === true,
    ...(f.fixedIn ? { fixedIn: { name: f.fixedIn.name, version: f.fixedIn.version } } : {}),
    purl: f.package.purl,
  }));
}

/**
 * The scan's statement about its OSV data, as the policy sees it; undefined for a summary written
 * before scans made one (no `problems`): the policy then treats the data as unknown.
 */
export function vulnerabilityDataFacts(osv: Partial<OsvDataVersion> | undefined): VulnerabilityDataFacts | undefined {
  if (!osv || !Array.isArray(osv.problems) || typeof osv.version !== 'string') return undefined;
  return {
    version: osv.version,
    records: osv.records ?? 0,
    ageSeconds: osv.ageSeconds ?? 0,
    ...(osv.maxAgeSeconds !== undefined ? { maxAgeSeconds: osv.maxAgeSeconds } : {}),
    ecosystems: osv.ecosystems ?? [],
    problems: osv.problems.map((p) => ({ ...p })),
  };
}
