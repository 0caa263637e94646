/**
 * The scanner's public data shapes. The policy gate consumes `Finding`, `HygieneResult` and
 * `ScanSummary`; keep them stable and additive.
 */

export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * Package ecosystems as OSV names them (release-scoped OS ecosystems carry the release separately).
 * 'RPM' is the one exception: packages of an rpm-based distribution OSV publishes no advisories for
 * (Fedora, CentOS, Amazon Linux, Oracle Linux, …), catalogued for the SBOM and never matched.
 */
export type Ecosystem =
  'Debian' | 'Ubuntu' | 'Alpine' | 'npm' | 'PyPI' | 'Go' | 'Maven' | 'Red Hat' | 'Rocky Linux' | 'AlmaLinux' | 'openSUSE' | 'SUSE' | 'Mageia' | 'RPM';

import { type PackageSource } from './sources';
import { type VexStatement } from './vex/statement';

/** A package found in the image's final filesystem. */
export interface Package {
  name: string;
  version: string;
  ecosystem: Ecosystem;
  /** Package URL (purl spec), e.g. pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12 */
  purl: string;
  /** Digest of the layer that last wrote the file the package was read from. */
  layer: string;
  /** Path of the database / manifest / binary it was read from. */
  location: string;
  /** OS packages: the source package and its version (OS advisories are keyed by source). */
  sourceName?: string;
  sourceVersion?: string;
  /** OS packages: the release-scoped ecosystem, e.g. 'Debian:12', 'Alpine:v3.20', 'Rocky Linux:9' (see ecosystems.ts for Red Hat and SUSE). */
  release?: string;
  licenses?: string[];
  /** Where the package was fetched from, when the image records it (npm `resolved`, pip direct_url.json). */
  sourceUrl?: string;
}

/** The distribution's own rating of an advisory (Debian urgency, Ubuntu priority, Red Hat severity…). */
export interface VendorSeverity {
  /** Who rated it, e.g. 'Debian', 'Ubuntu', 'Red Hat'. */
  source: string;
  /** The rating as published, e.g. 'unimportant', 'low', 'Important'. */
  rating: string;
  severity: Severity;
}

export interface Finding {
  /** OSV id shown for the finding, e.g. GHSA-p6mc-m468-83gw or DSA-5678-1 / DEBIAN-CVE-2024-1234. */
  id: string;
  /** Every OSV record id grouped into this finding (aliases of each other or of the same upstream vulnerability), `id` first. */
  ids: string[];
  /** Aliases of the grouped records that are not records themselves (CVE ids…). */
  aliases: string[];
  package: { name: string; version: string; ecosystem: Ecosystem; purl: string; layer: string; sourceName?: string; sourceVersion?: string };
  /**
   * The severity the gate compares: the distribution's rating where its advisories carry one (as
   * Trivy and osv-scanner do), otherwise the highest CVSS base score, otherwise the database's rating.
   */
  severity: Severity;
  /** The distribution's rating, when the record has one. */
  vendorSeverity?: VendorSeverity;
  /** Highest computed CVSS base score among the record's vectors, when any, and its band. */
  cvssScore?: number;
  cvssVector?: string;
  cvssSeverity?: Severity;
  /**
   * The distribution rates it as not a security problem for its users (Debian `unimportant`, Ubuntu
   * `negligible`): reported, but left out of counts and policy ceilings unless the policy includes them.
   */
  negligible?: boolean;
  /** True when the record names a version that fixes this package. */
  fixable: boolean;
  /**
   * Lowest fixed version greater than the installed one, when known. For OS advisories keyed by
   * source package this is a version of the source package (`fixedIn` says so).
   */
  fixedVersion?: string;
  /** The package and version the fix is expressed in, when it is the source package rather than the installed one. */
  fixedIn?: { name: string; version: string; kind: 'source' };
  summary?: string;
  /** The VEX statement that suppresses this finding (it stays listed, out of the verdict). */
  suppressedBy?: VexStatement;
}

export type HygieneCheck = 'setuid' | 'shell' | 'network-tool' | 'root-user' | 'private-key' | 'size' | 'efficiency';

export interface HygieneIssue {
  check: HygieneCheck;
  /** Paths concerned (or the USER value for root-user). */
  subjects: string[];
  message: string;
}

export interface HygieneResult {
  /** Regular files with the setuid or setgid bit (`find / -perm /6000 -type f`). */
  setuidFiles: string[];
  /** Shells present (sh, bash, dash, ash, zsh… including busybox applet links). */
  shells: string[];
  /** Network tools present (nc, curl, wget, …). */
  networkTools: string[];
  /** The image config's User, '' when unset. */
  user: string;
  runsAsRoot: boolean;
  /** Files that look like private keys (PEM/OpenSSH headers). */
  privateKeys: string[];
  /** Sum of the final files' sizes. */
  totalSizeBytes: number;
  /** Sum of the compressed layer blobs. */
  compressedSizeBytes: number;
  layerCount: number;
  /** Bytes of file versions written by a layer and overwritten or deleted by a later one. */
  wastedBytes: number;
  /** 1 - wasted / bytes of regular files written by all layers, in [0, 1] (Dive's CI threshold is 0.9). */
  efficiency: number;
  issues: HygieneIssue[];
}

export type SeverityCounts = Record<Severity, number>;

/** An ecosystem that had records in the data a scan matched against. */
export interface OsvEcosystemData {
  /** Base ecosystem, e.g. 'Debian', 'npm'. */
  ecosystem: string;
  records: number;
  /** When its data was written or last confirmed current upstream (ISO 8601). */
  updatedAt: string;
  /** Age of its data at scan time. */
  ageSeconds: number;
}

/**
 * Why the data cannot vouch for (part of) the image: no data at all, no records for an ecosystem the
 * image has packages of, or data older than scan.osv.maxAge. The gate denies on any (policy
 * `vulnerabilities.vulnerabilityData: require`, the default).
 */
export interface VulnerabilityDataProblem {
  kind: 'empty' | 'missing' | 'stale';
  /** Base ecosystem concerned ('*' for empty data). */
  ecosystem: string;
  /** Packages of the image in that ecosystem. */
  packages: number;
  ageSeconds?: number;
  maxAgeSeconds?: number;
  message: string;
}

export interface OsvDataVersion {
  /** Content hash of the imported data set (stable for the same records). */
  version: string;
  /** When the data was imported (ISO 8601). */
  importedAt: string;
  /** Newest `modified` among the records (ISO 8601), '' when empty. */
  newestModified: string;
  /**
   * Age of the data at scan time, in seconds: of the oldest ecosystem the image's packages needed
   * (of any loaded ecosystem when it has none; since the import when nothing loaded).
   */
  ageSeconds: number;
  records: number;
  /** Ecosystems that had records. */
  ecosystems: OsvEcosystemData[];
  /** scan.osv.maxAge in seconds, when set: data older than this is stale. */
  maxAgeSeconds?: number;
  /** Empty when the data covers every package of the image. */
  problems: VulnerabilityDataProblem[];
  /** Sources that could not be fetched or read when the data was loaded. */
  loadErrors?: { ecosystem?: string; source: string; message: string }[];
}

export interface SbomRef {
  /** Where the SBOM is kept: the Redis-backed store keyed by image digest. */
  store: 'redis' | 'memory';
  key: string;
  digest: string;
  format: 'cyclonedx-1.6';
}

export interface ScanSummary {
  registry: string;
  repository: string;
  digest: string;
  scannedAt: string;
  os?: { id: string; versionId: string; prettyName?: string };
  packageCount: number;
  /** Findings by severity; negligible findings are left out (see `negligible`). */
  counts: SeverityCounts;
  fixable: SeverityCounts;
  /** Findings the distribution rates negligible (reported in `findings`, not counted). */
  negligible?: number;
  findings: Finding[];
  /** Findings left out of `findings` to keep the summary small (counts include them). */
  findingsOmitted?: number;
  hygiene: HygieneResult;
  osv: OsvDataVersion;
  sbom: SbomRef;
  /** VEX attested on the image by a trusted key, and attestations that were not applied (and why). */
  vex?: { statements: VexStatement[]; problems: string[] };
  /** Where the image says its packages come from (apt sources, apk repositories, npm/pip URLs). */
  sources?: PackageSource[];
}
