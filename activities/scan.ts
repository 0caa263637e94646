import { Context } from '@temporalio/activity';
import { ChainError } from '../src/errors/chain-error';
import { type OsvDataVersion, osvSourceFromConfig, RedisSbomStore, rescanStored, scanImage, type ScanSummary, type SeverityCounts } from '../src/scan';
import { RescanFindingsStore } from '../src/scan/rescan-findings';
import { type ActivityDeps } from './deps';
import { toActivityFailure } from './errors';
import { activityLogger, activityWorkflowId } from './log';
import { SHA256_DIGEST } from '../src/registry';

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

  return {
    /** Scan stage: stream the image from the registry, catalogue, match OSV, check hygiene, keep the SBOM. */
    async scanImage(input: ScanImageInput): Promise<ScanSummary> {
      const log = activityLogger(deps.logger, input.digest);
      const ctx = Context.current();
      // Layer reads heartbeat their bytes; cataloguing and matching between them may not, so a timer
      // keeps beating (Temporal throttles heartbeats): the chain's 30 s heartbeat timeout then only
      // fires when the worker is gone.
      let last: unknown = { phase: 'start' };
      const alive = setInterval(() => ctx.heartbeat(last), HEARTBEAT_MS);
      try {
        if (!SHA256_DIGEST.test(input.digest)) throw new ChainError('BAD_INPUT', `scanImage needs an image digest, got "${input.digest}"`);
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
            onProgress: (p) => {
              last = { layer: p.index + 1, layers: p.count, bytes: p.bytes, size: p.size };
              ctx.heartbeat(last);
            },
          },
          { repository: input.repository, reference: input.digest },
        );
        const { summary } = result;
        if (result.refused.length > 0) log.warn({ refused: result.refused.slice(0, 20) }, 'unsafe tar entries ignored');
        if (result.catalogWarnings.length > 0) log.warn({ catalogWarnings: result.catalogWarnings.slice(0, 20) }, 'package databases not fully read');
        if (summary.osv.problems.length) log.warn({ problems: summary.osv.problems.map((p) => p.message) }, 'image matched against incomplete or stale OSV data');
        log.info({ packages: summary.packageCount, counts: summary.counts, osvVersion: summary.osv.version, hygieneIssues: summary.hygiene.issues.length }, 'image scanned');
        return summary;
      } catch (err) {
        log.warn({ err }, 'scan failed');
        return toActivityFailure(err);
      } finally {
        clearInterval(alive);
      }
    },

    /** Nightly rescan: re-match the stored SBOM against the current OSV data, without pulling layers. */
    async rescanImage(input: RescanImageInput): Promise<RescannedImage> {
      const log = activityLogger(deps.logger, input.digest);
      try {
        if (!SHA256_DIGEST.test(input.digest)) throw new ChainError('BAD_INPUT', `rescanImage needs an image digest, got "${input.digest}"`);
        if (input.osvVersion !== undefined && (await osv.current()).info.version !== input.osvVersion) await refreshFor(input.osvVersion, activityWorkflowId());
        const result = await rescanStored({ osv, sbomStore }, input.digest);
        if (!result) throw new ChainError('NOT_FOUND', `no stored SBOM for ${input.digest}: scan the image first`, { retryable: false });
        const { summary } = result;
        // The summary's findings, as the gate saw them at the first scan (the same limit applies).
        await rescans.put({ digest: summary.digest, osvVersion: summary.osv.version, scannedAt: summary.scannedAt, findings: summary.findings, vulnerabilityData: summary.osv });
        if (summary.osv.problems.length) log.warn({ problems: summary.osv.problems.map((p) => p.message) }, 'rescan matched against incomplete or stale OSV data');
        log.info({ counts: summary.counts, osvVersion: summary.osv.version }, 'stored SBOM rescanned');
        return { digest: summary.digest, registry: summary.registry, repository: summary.repository, scannedAt: summary.scannedAt, counts: summary.counts, osv: summary.osv };
      } catch (err) {
        log.warn({ err }, 'rescan failed');
        return toActivityFailure(err);
      }
    },

    /** Re-reads (and, if configured, downloads) the OSV data and swaps it in; returns its version. */
    async refreshOsvData(): Promise<{ version: string; records: number; rejected: number }> {
      try {
        const db = await osv.refresh();
        deps.logger.info({ workflowId: activityWorkflowId(), osvVersion: db.info.version, records: db.info.records, rejected: osv.rejected.length }, 'OSV data refreshed');
        return { version: db.info.version, records: db.info.records, rejected: osv.rejected.length };
      } catch (err) {
        deps.logger.warn({ err }, 'OSV refresh failed');
        return toActivityFailure(err);
      }
    },
  };
}
