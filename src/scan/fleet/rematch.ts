/**
 * The fleet rescan's re-match of one stored SBOM: its packages against the OSV data held in memory
 * (one database, looked up by package key), summarised as the first scan was (no registry access).
 */
import { countBySeverity, dataStatement, type OsvDatabase } from '../osv';
import { type StoredRescan } from '../rescan-findings';
import { type RescanView } from '../sbom/rescan-view';
import { MAX_SUMMARY_FINDINGS, summarizeKept } from '../scan-image';
import { type Finding, type SbomRef, type ScanSummary } from '../types';
import { digestOfKeys, findingKey } from './finding-key';
import { imageIndex, type ImageIndex } from './fingerprint';
import { matchFleetImage, stampLayers } from './match-cache';

export interface Rematched {
  /** The summary matchPackages and summarize() give: its findings stamped with the image's layers when first read. */
  summary: ScanSummary;
  /**
   * The summary's findings as the match cache holds them, each with the layer of the first image
   * matched with its package: for what reads no layer (the gate makes its facts once per cached finding,
   * where the summary's are copies per image).
   */
  findings: readonly Finding[];
  /** findingsDigest of the summary's findings with `vex`, from the keys the match kept of them. */
  digest: (vex: readonly unknown[] | undefined) => string;
  /** The keys and versions the image is indexed under: computed on demand, as most images are indexed already. */
  index: () => ImageIndex;
  /** The rank the summary's findings were cut at (undefined: none left out): what a delta's plan skips by (mustRematch). */
  cut: number | undefined;
}

/** Re-matches an image's rescan view (its packages as its SBOM gives them: SbomStore.getViews). */
export function rematchStored(db: OsvDatabase, stored: RescanView, ref: SbomRef, now: Date, maxAgeMs: number | undefined): Rematched {
  // Matching reads the rows: the packages as the table holds them, each with its layer (no copy of each per image).
  const { rows } = stored;
  const { packages } = rows;
  // The summary keeps the first MAX_SUMMARY_FINDINGS: what the gate decides on, and so what is digested.
  const { cached, layers, keys, tally, cut } = matchFleetImage(db, packages, MAX_SUMMARY_FINDINGS, rows);
  const summary = summarizeKept(stored, packages, cached, tally, dataStatement(db, packages, now, maxAgeMs), ref, now);
  // Stamped when read: a rescan that gates in memory reads `findings` alone, and would otherwise copy
  // about 500 findings per image into its layers for nothing.
  let stamped: Finding[] | undefined;
  Object.defineProperty(summary, 'findings', { get: () => (stamped ??= stampLayers(cached, layers)), enumerable: true, configurable: true });
  return {
    summary,
    findings: cached,
    digest: (vex) => digestOfKeys(keys, vex),
    index: () => imageIndex(packages),
    cut,
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
  return digestOfKeys(findings.map(findingKey), vex);
}
