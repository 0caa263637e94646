/**
 * The activities only the `rescan` workflow runs: refresh the OSV data, page through the gated
 * digests, re-match each stored SBOM (no layer pull), re-gate it, and mark its subscribers told.
 * (Its fresh verdict attestation, attestVerdict, is a signing activity: ./sign.ts.)
 */
import { ChainError } from '../src/errors';

import { DecisionStore, type DigestPage, type LoadedPolicy, policyFromConfig, regate, type RegateOutcome, type Violation } from '../src/policy';
import { SHA256_DIGEST } from '../src/registry';
import { BuildRecordStore } from '../src/source-build';
import { FleetIndex, type OsvDataVersion, RescanFindingsStore, rescanStored, type SeverityCounts, type VexStatement } from '../src/scan';
import { activity } from './activity';
import { type ActivityDeps } from './deps';
import { ingestQueueOf } from './ingest-queue';
import { scanContext } from './scan-context';

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

export interface RegateInput {
  digest: string;
  /** The OSV data rescanImage matched the digest's stored SBOM against (its findings are kept under it). */
  osvVersion: string;
}

export interface RegateResult extends Omit<RegateOutcome, 'decision'> {
  digest: string;
  /** As the decision names it. */
  repository: string;
  policyVersion: string;
  /** The enforced violations of the decision the image now stands under (at most 20). */
  violations: Violation[];
  osvVersion: string;
}

/** Violations carried in a rescan result and its notification; the decision store keeps them all. */
const MAX_REPORTED_VIOLATIONS = 20;

export interface RescanDeps extends ActivityDeps {
  /** Overrides the configured policy file (tests). */
  policy?: LoadedPolicy;
  now?: () => Date;
}

export function createRescanActivities(deps: RescanDeps) {
  const { osv, sbomStore, vex, refreshFor } = scanContext(deps);
  const policy = deps.policy ?? policyFromConfig(deps.config);
  const store = new DecisionStore(deps.redis);
  const rescans = new RescanFindingsStore(deps.redis);
  const now = deps.now ?? (() => new Date());
  const builds = new BuildRecordStore(deps.redis);
  const fleet = new FleetIndex(deps.redis);
  return {
    /**
     * A deployed digest the rescan turned denied, built by the chain from source: queues a build of
     * the same ref (its newest commit, the base image as it is now) whose new digest goes through the
     * chain. One rebuild per digest (its own chain id); a retry of this rescan queues nothing more.
     * Off with `rescan.rebuildDeployed: false`. Returns the rebuild chain's workflow id, if one was queued.
     */
    rebuildDeployed: activity(
      deps.logger,
      { subject: (i: { digest: string }) => i.digest },
      async (input, { log, workflowId }): Promise<string | undefined> => {
        if (!deps.config.rescan.rebuildDeployed) return undefined;
        const built = await builds.get(input.digest);
        if (!built) return undefined;
        const { commit: _built, ...rest } = built;
        const request = { ...rest, source: 'rescan', rebuildOf: input.digest };
        const result = await ingestQueueOf(deps).submitBuild(request, 'rescan', `${workflowId}/${input.digest}`);
        log.warn(
          { rebuild: result.workflowId, outcome: result.outcome, repoUrl: built.repoUrl, ref: built.ref, builtCommit: built.commit },
          'rescan: a deployed image turned denied; its source is built again',
        );
        return result.workflowId;
      },
    ),

    /** Nightly rescan: re-match the stored SBOM against the current OSV data, without pulling layers. */
    rescanImage: activity(
      deps.logger,
      { subject: (i: RescanImageInput) => i.digest, failure: 'rescan failed' },
      async (input, { log, workflowId }): Promise<RescannedImage> => {
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
        await rescans.put({
          digest: summary.digest,
          osvVersion: summary.osv.version,
          scannedAt: summary.scannedAt,
          findings: summary.findings,
          vulnerabilityData: summary.osv,
          ...(attached ? { vex: attached } : {}),
        });
        if (summary.osv.problems.length)
          log.warn({ problems: summary.osv.problems.map((p) => p.message) }, 'rescan matched against incomplete or stale OSV data');
        log.info({ counts: summary.counts, osvVersion: summary.osv.version }, 'stored SBOM rescanned');
        return {
          digest: summary.digest,
          registry: summary.registry,
          repository: summary.repository,
          scannedAt: summary.scannedAt,
          counts: summary.counts,
          osv: summary.osv,
        };
      },
    ),

    /** Re-reads (and, if configured, downloads) the OSV data and swaps it in; returns its version. */
    refreshOsvData: activity(
      deps.logger,
      { failure: 'OSV refresh failed' },
      async (_input: void, { log }): Promise<{ version: string; records: number; rejected: number }> => {
        const db = await osv.refresh();
        log.info({ osvVersion: db.info.version, records: db.info.records, rejected: osv.rejected.length }, 'OSV data refreshed');
        return { version: db.info.version, records: db.info.records, rejected: osv.rejected.length };
      },
    ),
    /** One page of the digests that have a gate decision, for the rescan to walk through. */
    listGatedDigests: activity(deps.logger, {}, async (input: { after?: string; limit: number }, { log }): Promise<DigestPage> => {
      const page = await store.listDigests(input);
      log.debug({ after: input.after, listed: page.digests.length, more: page.next !== undefined }, 'gated digests listed');
      return page;
    }),

    /**
     * The rescan's gate: re-evaluates the digest's latest decision on its rescanned findings (kept
     * in Redis by rescanImage; gone = a non-retryable INTERNAL failure) and
     * records a new decision when the verdict or the findings changed (a break-glass override is
     * carried over), otherwise refreshes the record's scan time. Safe to retry: the record carries
     * the rescan's workflow id, and a retry reports what the first attempt wrote.
     * NOT_FOUND (non-retryable) when the digest has no decision any more.
     */
    regateImage: activity(
      deps.logger,
      { subject: (i: RegateInput) => i.digest, failure: 'rescan gate failed' },
      async (input, { log, workflowId }): Promise<RegateResult> => {
        const scan = await rescans.get(input.digest, input.osvVersion);
        if (!scan)
          throw new ChainError(
            'INTERNAL',
            `no rescanned findings of ${input.digest} for OSV data ${input.osvVersion} (expired or lost): the next rescan matches again`,
            { retryable: false },
          );
        const at = now();
        let outcome: RegateOutcome | undefined;
        const { previous } = await store.update(input.digest, (latest, stored) => {
          if (!latest) return undefined;
          const result = regate(latest, scan, { policy, now: at, workflowId, osvVersion: input.osvVersion }, stored);
          outcome = result.outcome;
          return result.update;
        });
        if (!previous || !outcome) throw new ChainError('NOT_FOUND', `no gate decision recorded for ${input.digest}`, { retryable: false });
        const { decision, ...rest } = outcome;
        const result: RegateResult = {
          ...rest,
          digest: input.digest,
          repository: previous.facts.repository,
          policyVersion: decision.policyVersion,
          violations: decision.violations.filter((v) => v.enforced).slice(0, MAX_REPORTED_VIOLATIONS),
          osvVersion: input.osvVersion,
        };
        const fields = {
          repository: result.repository,
          verdict: result.verdict,
          allowed: result.allowed,
          previousAllowed: result.previousAllowed,
          recorded: result.recorded,
          findingsChanged: result.findingsChanged,
          overridden: result.overridden,
          notify: result.notify,
          findings: scan.findings.length,
          osvVersion: result.osvVersion,
          policyVersion: result.policyVersion,
        };
        if (result.verdict === 'denied') log.warn(fields, `rescan: now denied — ${result.violations.map((v) => v.message).join('; ')}`);
        else if (result.overridden && result.notify)
          log.warn(
            { ...fields, override: previous.override },
            `rescan: new violations under a break-glass override — ${result.violations.map((v) => v.message).join('; ')}`,
          );
        else if (result.overridden && result.recorded)
          log.warn({ ...fields, override: previous.override }, 'rescan: denied by policy, admitted by break-glass override');
        else log.info(fields, result.verdict === 'allowed' ? 'rescan: now allowed' : 'rescan: verdict unchanged');
        return result;
      },
    ),

    /**
     * After the rescan notified subscribers of a digest's change: marks it told, so the next rescan
     * does not tell it again (one that could not notify leaves the mark unset and the next one does).
     */
    markRescanNotified: activity(deps.logger, { subject: (i: { digest: string }) => i.digest }, async (input, { log, workflowId }): Promise<boolean> => {
      const marked = await store.markRescanNotified(input.digest, workflowId);
      // Told: a delta rescan need not look at it again for this.
      await fleet.setUnnotified([], [input.digest]);
      log.debug({ marked }, 'rescan notification marked');
      return marked;
    }),
  };
}
