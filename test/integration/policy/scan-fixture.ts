import { type Finding, type ScanSummary } from '../../../src/scan';

const zero = { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 };

/** A scanner summary as the scan stage hands it to the gate. */
export function scanSummary(
  registry: string,
  repository: string,
  digest: string,
  options: { findings?: Finding[]; user?: string; setuid?: string[]; scannedAt?: string } = {},
): ScanSummary {
  return {
    registry,
    repository,
    digest,
    scannedAt: options.scannedAt ?? new Date().toISOString(),
    packageCount: 1,
    counts: zero,
    fixable: zero,
    findings: options.findings ?? [],
    hygiene: {
      setuidFiles: options.setuid ?? [],
      shells: [],
      networkTools: [],
      user: options.user ?? '65532',
      runsAsRoot: options.user === undefined ? false : options.user === '' || options.user === 'root',
      privateKeys: [],
      totalSizeBytes: 1_000_000,
      compressedSizeBytes: 500_000,
      layerCount: 1,
      wastedBytes: 0,
      efficiency: 1,
      issues: [],
    },
    osv: {
      version: 'test',
      importedAt: new Date().toISOString(),
      newestModified: '',
      ageSeconds: 0,
      records: 1,
      ecosystems: [{ ecosystem: 'Debian', records: 1, updatedAt: new Date().toISOString(), ageSeconds: 0 }],
      problems: [],
    },
    sbom: { store: 'memory', key: 'sbom', digest, format: 'cyclonedx-1.6' },
  };
}

export function criticalFinding(id = 'CVE-2026-1000'): Finding {
  return {
    id,
    ids: [id],
    aliases: [],
    package: { name: 'openssl', version: '3.0.1', ecosystem: 'Debian', purl: 'pkg:deb/debian/openssl@3.0.1', layer: `sha256:${'0'.repeat(64)}` },
    severity: 'CRITICAL',
    fixable: true,
    fixedVersion: '3.0.2',
  };
}
