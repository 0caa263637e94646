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
  | 'Debian'
  | 'Ubuntu'
  | 'Alpine'
  | 'npm'
  | 'PyPI'
  | 'Go'
  | 'Maven'
  | 'Red Hat'
  | 'Rocky Linux'
  | 'AlmaLinux'
  | 'openSUSE'
  | 'SUSE'
  | 'Mageia'
  | 'RPM';

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
}

export interface Finding {
  /** OSV id, e.g. GHSA-p6mc-m468-83gw or DSA-5678-1 / CVE-2024-1234. */
  id: string;
  aliases: string[];
  package: { name: string; version: string; ecosystem: Ecosystem; purl: string; layer: string };
  severity: Severity;
  /** Highest computed CVSS base score among the record's vectors, when any. */
  cvssScore?: number;
  cvssVector?: string;
  /** True when the record names a version that fixes this package. */
  fixable: boolean;
  /** Lowest fixed version greater than the installed one, when known. */
  fixedVersion?: string;
  summary?: string;
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

export interface OsvDataVersion {
  /** Content hash of the imported data set (stable for the same records). */
  version: string;
  /** When the data was imported (ISO 8601). */
  importedAt: string;
  /** Newest `modified` among the records (ISO 8601), '' when empty. */
  newestModified: string;
  /** Age of the data at scan time, seconds since importedAt. */
  ageSeconds: number;
  records: number;
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
  counts: SeverityCounts;
  fixable: SeverityCounts;
  findings: Finding[];
  /** Findings left out of `findings` to keep the summary small (counts include them). */
  findingsOmitted?: number;
  hygiene: HygieneResult;
  osv: OsvDataVersion;
  sbom: SbomRef;
}
