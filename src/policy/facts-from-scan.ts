import { type Finding, type OsvDataVersion, type ScanSummary } from '../scan';
import { type FindingFact, type ImageFacts, imageFactsSchema, type VulnerabilityDataFacts } from './image-facts';
import { ObjectMemo } from './object-memo';

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

/**
 * Each finding's fact, by the finding it was made of. A fleet rescan's gate reads the findings as the
 * match cache holds them (rematchStored's `findings`: one object per distinct package's finding across
 * the fleet), about 500 per image: each one's fact is made once, and its digest part
 * (findings-digest.ts) and violations (rules/vulnerabilities.ts) with it. Findings and facts are never
 * changed in place (a VEX suppression or another layer is a copy), so one fact may be shared by the
 * facts of many images.
 */
const factOf = new ObjectMemo<Finding, FindingFact>('finding fact');

/** The scanner's findings as the policy sees them (each fact shared by every image with the same finding object: see factOf). */
export function findingFacts(findings: readonly Finding[]): FindingFact[] {
  const out: FindingFact[] = new Array<FindingFact>(findings.length);
  for (let i = 0; i < findings.length; i++) {
    const f = findings[i]!;
    let fact = factOf.get(f);
    if (fact === undefined) factOf.set(f, (fact = findingFact(f)));
    out[i] = fact;
  }
  return out;
}

/**
 * One finding's fact. Built field by field in one order (the optional ones only when set), not by
 * spreading a small object per optional field.
 */
function findingFact(f: Finding): FindingFact {
  // In the order the fields always had (stored records keep their bytes); ids and negligible are set below.
  const fact = {
    id: f.id,
    aliases: f.aliases,
    package: f.package.name,
    version: f.package.version,
    ecosystem: f.package.ecosystem,
    severity: f.severity,
    fixable: f.fixable,
  } as FindingFact;
  if (f.fixedVersion !== undefined) fact.fixedVersion = f.fixedVersion;
  fact.ids = f.ids ?? [f.id];
  if (f.vendorSeverity) fact.vendorSeverity = { source: f.vendorSeverity.source, rating: f.vendorSeverity.rating };
  if (f.cvssScore !== undefined) fact.cvssScore = f.cvssScore;
  fact.negligible = f.negligible === true;
  if (f.fixedIn) fact.fixedIn = { name: f.fixedIn.name, version: f.fixedIn.version };
  fact.purl = f.package.purl;
  return fact;
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
