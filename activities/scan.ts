import { ChainError } from '../src/errors';
import { SHA256_DIGEST } from '../src/registry';
import { FleetIndex, imageIndex, scanImage, type ScanSummary } from '../src/scan';
import { activity } from './activity';
import { type ActivityDeps } from './deps';
import { scanContext } from './scan-context';

export interface ScanImageInput {
  /** Configured registry name. */
  registry: string;
  repository: string;
  digest: string;
}

/** A scan heartbeats at least this often (the chain's heartbeat timeout is 30 s). */
const HEARTBEAT_MS = 10_000;

/** The scan stage (the rescan's activities are in ./rescan.ts). */
export function createScanActivities(deps: ActivityDeps) {
  const { osv, sbomStore, vex } = scanContext(deps);
  const fleet = new FleetIndex(deps.redis);
  const limits = Object.fromEntries(Object.entries(deps.config.scan.limits).filter(([, v]) => v !== undefined));
  return {
    /** Scan stage: stream the image from the registry, catalogue, match OSV, check hygiene, keep the SBOM. */
    // Layer reads heartbeat their bytes; cataloguing and matching between them may not, so the keep-alive
    // beats too (Temporal throttles heartbeats): the chain's 30 s heartbeat timeout then only fires when the worker is gone.
    scanImage: activity(
      deps.logger,
      { subject: (i: ScanImageInput) => i.digest, keepAliveMs: HEARTBEAT_MS, failure: 'scan failed' },
      async (input, { log, heartbeat }): Promise<ScanSummary> => {
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
        // The fleet rescan re-matches this image when the records of one of its packages change.
        await fleet.add(result.summary.digest, imageIndex(result.packages), result.summary.osv.version);
        const attached = await vex.read(source, input.repository, input.digest);
        if (attached.problems.length) log.warn({ problems: attached.problems.slice(0, 20) }, 'VEX attestations not applied');
        const summary = { ...result.summary, findings: vex.annotate(result.summary.findings, attached.statements, input.digest), vex: attached };
        if (result.refused.length > 0) log.warn({ refused: result.refused.slice(0, 20) }, 'unsafe tar entries ignored');
        if (result.catalogWarnings.length > 0) log.warn({ catalogWarnings: result.catalogWarnings.slice(0, 20) }, 'package databases not fully read');
        if (summary.osv.problems.length)
          log.warn({ problems: summary.osv.problems.map((p) => p.message) }, 'image matched against incomplete or stale OSV data');
        log.info(
          { packages: summary.packageCount, counts: summary.counts, osvVersion: summary.osv.version, hygieneIssues: summary.hygiene.issues.length },
          'image scanned',
        );
        return summary;
      },
    ),
  };
}
