import { ChainError } from '../src/errors';
import { type Finding, type OsvDataVersion, osvSourceFromConfig, readAttachedVex, RedisSbomStore, RescanFindingsStore, rescanStored, scanImage, type ScanSummary, type SeverityCounts, vexOutcome, type VexStatement } from '../src/scan';
import { readFileSync } from 'node:fs';
import { type Config } from '../src/config';
import { policyFromConfig } from '../src/policy';
import { type RegistryClient, SHA256_DIGEST } from '../src/registry';
import { type ActivityDeps } from './deps';
import { activity } from './activity';

export interface ScanImageInput {
  /** Configured registry name. */
  registry: string;
  repository: string;
  digest: string;
}

export interface RescanImageInput {
  digest: string;
  /**
   * The OSV data version the rescan refreshed to. A scan worker that holds other data (it did not
   * run the refresh) refreshes its own first, so every image of one rescan is matched alike.
   */
  osvVersion?: string;
}

/**
 * What rescanImage returns: small, as it goes through the workflow's history once per image. The
 * findings themselves are in Redis for regateImage (RescanFindingsStore, by digest and OSV version).
 */
export interface RescannedImage {
  digest: string;
  /** The registry (configured name) and repository the image was scanned from. */
  registry: string;
  repository: string;
  scannedAt: string;
  counts: SeverityCounts;
  osv: OsvDataVersion;
}

/** A scan heartbeats at least this often (the chain's heartbeat timeout is 30 s). */
const HEARTBEAT_MS = 10_000;

export function createScanActivities(deps: ActivityDeps) {
  const osv = osvSourceFromConfig(deps.config, deps.logger);
  const sbomStore = new RedisSbomStore(deps.redis);
  const rescans = new RescanFindingsStore(deps.redis);
  const limits = Object.fromEntries(Object.entries(deps.config.scan.limits).filter(([, v]) => v !== undefined));
  // The rescan's OSV version this worker last refreshed for: one refresh per rescan, shared by the
  // images that ask at the same time, even when upstream data has moved on past that version since.
  let refreshedFor: { osvVersion: string; done: Promise<void> } | undefined;
  const refreshFor = (osvVersion: string, workflowId: string): Promise<void> => {
    if (refreshedFor?.osvVersion !== osvVersion) {
      const done = osv.refresh().then(
        (db) => {
          if (db.info.version !== osvVersion) deps.logger.warn({ workflowId, expected: osvVersion, osvVersion: db.info.version }, 'OSV data changed since the rescan refreshed it; matching the newer data');
        },
        (err: unknown) => {
          // A failed refresh is tried again by the next image (or the activity's retry).
          if (refreshedFor?.done === done) refreshedFor = undefined;
          throw err;
        },
      );
      refreshedFor = { osvVersion, done };
    }
    return refreshedFor.done;
  };

  const vex = attachedVexReader(deps.config);

  return {
    /** Scan stage: stream the image from the registry, catalogue, match OSV, check hygiene, keep the SBOM. */
    // Layer reads heartbeat their bytes; cataloguing and matching between them may not, so the keep-alive
    // beats too (Temporal throttles heartbeats): the chain's 30 s heartbeat timeout then only fires when the worker is gone.
    scanImage: activity(deps.logger, { subject: (i: ScanImageInput) => i.digest, keepAliveMs: HEARTBEAT_MS, failure: 'scan failed' }, async (input, { log, heartbeat }): Promise<ScanSummary> => {
      if (!SHA256_DIGEST.test(input.digest)) throw new ChainError('BAD_INPUT', `scanImage needs an image digest, got "${input.digest}"`);
      heartbeat({ phase: 'start' });
      const source = deps.registry(input.registry);
      const result = await scanImage(
        {
          source,
          registryName: input.registry,
          registryHost: source.host,
          osv,
          sbomStore,
          limits,
          concurrency: deps.config.scan.concurrency,
          onProgress: (p) => heartbeat({ layer: p.index + 1, layers: p.count, bytes: p.bytes, size: p.size }),
        },
        { repository: input.repository, reference: input.digest },
      );
      const attached = await vex.read(source, input.repository, input.digest);
      if (attached.problems.length) log.warn({ problems: attached.problems.slice(0, 20) }, 'VEX attestations not applied');
      const summary = { ...result.summary, findings: vex.annotate(result.summary.findings, attached.statements, input.digest), vex: attached };
      if (result.refused.length > 0) log.warn({ refused: result.refused.slice(0, 20) }, 'unsafe tar entries ignored');
      if (result.catalogWarnings.length > 0) log.warn({ catalogWarnings: result.catalogWarnings.slice(0, 20) }, 'package databases not fully read');
      if (summary.osv.problems.length) log.warn({ problems: summary.osv.problems.map((p) => p.message) }, 'image matched against incomplete or stale OSV data');
      log.info({ packages: summary.packageCount, counts: summary.counts, osvVersion: summary.osv.version, hygieneIssues: summary.hygiene.issues.length }, 'image scanned');
      return summary;
    }),

    /** Nightly rescan: re-match the stored SBOM against the current OSV data, without pulling layers. */
    rescanImage: activity(deps.logger, { subject: (i: RescanImageInput) => i.digest, failure: 'rescan failed' }, async (input, { log, workflowId }): Promise<RescannedImage> => {
      if (!SHA256_DIGEST.test(input.digest)) throw new ChainError('BAD_INPUT', `rescanImage needs an image digest, got "${input.digest}"`);
      if (input.osvVersion !== undefined && (await osv.current()).info.version !== input.osvVersion) await refreshFor(input.osvVersion, workflowId);
      const result = await rescanStored({ osv, sbomStore }, input.digest);
      if (!result) throw new ChainError('NOT_FOUND', `no stored SBOM for ${input.digest}: scan the image first`, { retryable: false });
      const { summary } = result;
      // VEX attached since the gate counts from this rescan on; when the registry cannot be read,
      // the statements the gate saw stay in force (regate keeps them) and the next rescan tries again.
      let attached: VexStatement[] | undefined;
      try {
        const read = await vex.read(deps.registry(summary.registry), summary.repository, summary.digest);
        if (read.problems.length) log.warn({ problems: read.problems.slice(0, 20) }, 'VEX attestations not applied');
        attached = read.statements;
      } catch (err) {
        log.warn({ err }, 'VEX attestations unreadable; the statements of the last decision stay in force');
      }
      // The summary's findings, as the gate saw them at the first scan (the same limit applies).
      await rescans.put({ digest: summary.digest, osvVersion: summary.osv.version, scannedAt: summary.scannedAt, findings: summary.findings, vulnerabilityData: summary.osv, ...(attached ? { vex: attached } : {}) });
      if (summary.osv.problems.length) log.warn({ problems: summary.osv.problems.map((p) => p.message) }, 'rescan matched against incomplete or stale OSV data');
      log.info({ counts: summary.counts, osvVersion: summary.osv.version }, 'stored SBOM rescanned');
      return { digest: summary.digest, registry: summary.registry, repository: summary.repository, scannedAt: summary.scannedAt, counts: summary.counts, osv: summary.osv };
    }),

    /** Re-reads (and, if configured, downloads) the OSV data and swaps it in; returns its version. */
    refreshOsvData: activity(deps.logger, { failure: 'OSV refresh failed' }, async (_input: void, { log }): Promise<{ version: string; records: number; rejected: number }> => {
      const db = await osv.refresh();
      log.info({ osvVersion: db.info.version, records: db.info.records, rejected: osv.rejected.length }, 'OSV data refreshed');
      return { version: db.info.version, records: db.info.records, rejected: osv.rejected.length };
    }),
  };
}

/**
 * VEX attested on images, believed only when signed by a trusted key (signing.trustedKeys and the
 * policy's trustedKeys), and the findings it (or a VEX document of the policy) suppresses marked so
 * scan results and their attestation show it. The gate decides again with the rule's allowlist too.
 */
function attachedVexReader(config: Config) {
  // Read on first use: a scan-only worker that never scans needs neither.
  let loaded: { keys: string[]; policyVex: readonly VexStatement[] } | undefined;
  const load = () => {
    if (!loaded) {
      const policy = policyFromConfig(config);
      const keys = config.signing.trustedKeys.map((file) => {
        try {
          return readFileSync(file, 'utf8');
        } catch (cause) {
          throw new ChainError('CONFIG_UNREADABLE', `cannot read trusted key ${file}: ${(cause as Error).message}`, { cause });
        }
      });
      loaded = { keys: [...keys, ...policy.keys.values()], policyVex: policy.vex ?? [] };
    }
    return loaded;
  };
  return {
    read: (client: RegistryClient, repository: string, digest: string) => readAttachedVex(client, repository, digest, load().keys),
    annotate(findings: Finding[], attached: readonly VexStatement[], digest: string): Finding[] {
      const statements = [...attached, ...load().policyVex];
      if (statements.length === 0) return findings;
      const now = new Date();
      return findings.map((f) => {
        const { suppressedBy } = vexOutcome({ id: f.id, aliases: f.aliases, package: f.package.name, purl: f.package.purl }, statements, digest, now);
        return suppressedBy ? { ...f, suppressedBy } : f;
      });
    },
  };
}
