/**
 * The fleet rescan's re-match of one stored SBOM: its packages against the OSV data held in memory
 * (one database, looked up by package key), summarised as the first scan was (no registry access).
 */
import { createHash } from 'node:crypto';
import { countBySeverity, dataStatement, type OsvDatabase } from '../osv';
import { type StoredRescan } from '../rescan-findings';
import { type RescanView } from '../sbom/rescan-view';
import { summarize } from '../scan-image';
import { type Finding, type SbomRef, type ScanSummary } from '../types';
import { imageIndex, type ImageIndex } from './fingerprint';
import { matchFleetPackages } from './match-cache';

export interface Rematched {
  summary: ScanSummary;
  /** The keys and versions the image is indexed under: computed on demand, as most images are indexed already. */
  index: () => ImageIndex;
}

/** Re-matches an image's rescan view (its packages as its SBOM gives them: SbomStore.getViews). */
export function rematchStored(db: OsvDatabase, stored: RescanView, ref: SbomRef, now: Date, maxAgeMs: number | undefined): Rematched {
  const { packages } = stored;
  const findings = matchFleetPackages(db, packages);
  return {
    summary: summarize(stored, packages, findings, dataStatement(db, packages, now, maxAgeMs), ref, now),
    index: () => imageIndex(packages),
  };
}

/**
 * What the rescan keeps for an image whose SBOM is missing or cannot be read: no findings known, and a
 * data statement that says the image's packages went unchecked, so the re-gate denies it with the
 * reason (fail closed, under the default `vulnerabilityData: require`), never reads it as clean.
 */
export function uncheckedRescan(db: OsvDatabase, digest: string, osvVersion: string, reason: string, now: Date, maxAgeMs: number | undefined): StoredRescan {
  const statement = dataStatement(db, [], now, maxAgeMs);
  return {
    digest,
    osvVersion,
    scannedAt: now.toISOString(),
    findings: [],
    counts: countBySeverity([]),
    vulnerabilityData: {
      ...statement,
      problems: [
        { kind: 'missing', ecosystem: '*', packages: 0, message: `the image's packages are unknown: ${reason}; scan it again` },
        ...statement.problems,
      ],
    },
  };
}

/**
 * A digest of what the re-gate decides on: the findings as the policy sees them (findingFacts: not the
 * layer they were read from) and the VEX statements read. Equal digests: the same decision inputs.
 */
export function findingsDigest(findings: readonly Finding[], vex: readonly unknown[] | undefined): string {
  const parts: string[] = [];
  for (const f of findings) {
    const p = f.package;
    parts.push(
      [
        f.id,
        f.ids.join(','),
        f.aliases.join(','),
        p.name,
        p.version,
        p.ecosystem,
        p.purl,
        f.severity,
        f.fixable ? '1' : '0',
        f.fixedVersion ?? '',
        f.vendorSeverity ? `${f.vendorSeverity.source}:${f.vendorSeverity.rating}` : '',
        f.cvssScore ?? '',
        f.negligible ? '1' : '0',
        f.fixedIn ? `${f.fixedIn.name}@${f.fixedIn.version}` : '',
        f.suppressedBy ? JSON.stringify(f.suppressedBy) : '',
      ].join('\u0000'),
    );
  }
  parts.push(vex === undefined ? '-' : JSON.stringify(vex));
  return createHash('sha1').update(parts.join('\u0001')).digest('base64url');
}
