/**
 * The batched rescan's activities: plan which images to re-match (all, or those under packages whose
 * OSV records changed: src/scan/fleet), re-match a page of stored SBOMs per activity (one MGET, one
 * in-memory database, findings written in one pipeline) and re-gate a page per activity. Both
 * heartbeat their progress, so a retried attempt resumes where the last one stopped. Only the images
 * that need more (a notification, a fresh verification summary, a restart) come back to the workflow.
 */
import pLimit from 'p-limit';
import { z } from 'zod';
import { durationMs } from '../src/config';
import { ChainError } from '../src/errors';
import { DecisionStore, findingFactsDigest, policyFromConfig, regate, type RegateOutcome, type Violation } from '../src/policy';
import {
  deltaImages,
  findingsDigest,
  FleetIndex,
  gatedRecordOf,
  heldThenOf,
  MATCHER_VERSION,
  mustRematch,
  type OsvDatabase,
  osvFingerprint,
  rematchStored,
  touchedVersions,
  versionChangeRank,
  versionDigests,
  RescanFindingsStore,
  rescanMode,
  type SeverityCounts,
  type StoredRescan,
  uncheckedRescan,
  type VexStatement,
} from '../src/scan';
import { type RescanPlanRef } from '../src/chain';
import { activity } from './activity';
import { type ActivityDeps } from './deps';
import { scanContext } from './scan-context';

/** Images fetched (MGET), matched and written (pipeline) per step; a heartbeat after each. */
const STEP = 100;
/** VEX reads in flight at once (one registry request or two each). */
const VEX_CONCURRENCY = 16;
/** Decision updates in flight at once (each a read and a compare-and-write). */
const REGATE_CONCURRENCY = 16;
/**
 * Rescanned findings fetched (MGET) and re-gated per step; a heartbeat after each. Small: an image's
 * findings are about 100 KB of JSON, and a step's parsed findings stay in memory until its last update.
 */
const REGATE_STEP = 2 * REGATE_CONCURRENCY;
const MAX_REPORTED_VIOLATIONS = 20;
/** Problems carried back per batch (the summary keeps 50). */
const MAX_BATCH_PROBLEMS = 20;
/** A verification summary is signed again when it would expire within one rescan interval and this margin. */
const ATTEST_MARGIN_MS = 3_600_000;
/** Gated digests read per page while planning. */
const PLAN_PAGE = 5_000;

const digests = z.array(z.string().regex(/^sha256:[0-9a-f]{64}$/)).max(1000);
const planInput = z.strictObject({ osvVersion: z.string().min(1), full: z.boolean().optional() });
const batchInput = z.strictObject({ digests, osvVersion: z.string().min(1) });
/** carry: a delta, whose images that match as their decision was gated keep it (no re-gate). */
const rescanBatchInput = z.strictObject({ digests, osvVersion: z.string().min(1), carry: z.boolean().optional() });
const pageInput = z.strictObject({ after: z.string().optional(), limit: z.number().int().min(1).max(1000) });

export interface BatchProblem {
  digest: string;
  error: string;
}

export interface RescanBatchResult {
  /** Re-matched against the data. */
  matched: number;
  /** No stored SBOM, or one that cannot be read: re-gated as unchecked (denied under `vulnerabilityData: require`). */
  unreadable: BatchProblem[];
  /** Matched exactly as their decision was gated (a delta only): nothing to re-gate. */
  carried: string[];
}

/** An image whose re-gate asks the workflow for more: a notification, a fresh summary, a restart. */
export interface FollowUp extends Omit<RegateOutcome, 'decision'> {
  digest: string;
  registry: string;
  repository: string;
  policyVersion: string;
  violations: Violation[];
  osvVersion: string;
  counts?: SeverityCounts;
  /** Sign a verification summary now (the verdict changed, or the last one is near its expiry). */
  attest: boolean;
}

export interface RegateBatchResult {
  recorded: number;
  overridden: number;
  unchanged: number;
  changedToDenied: number;
  changedToAllowed: number;
  /** No decision any more. */
  skipped: number;
  failed: BatchProblem[];
  followUps: FollowUp[];
}

/** What rescanGateBatch returns: the re-match's and the re-gate's results of one batch. */
export type RescanGateBatchResult = RescanBatchResult & RegateBatchResult;

interface RescanProgress {
  done: number;
  matched: number;
  unreadable: BatchProblem[];
  carried: string[];
  /** Images matched as their record was last gated (gatedRecord): re-gated without digesting their findings, unless the record changed since. */
  asGated?: number;
}

interface RescanGateProgress extends RescanProgress {
  gate: RegateBatchResult;
}

/**
 * The hit digests of `versions` in `db` that may differ from those stored for them (`before`, null:
 * never digested). With the data the last rescan matched still in memory (`was`), only the versions
 * a record differing between the two affects can hit differently (touchedVersions): the others are
 * left out, their stored digest standing. Without it, every version is digested.
 */
function digestChanged(
  db: OsvDatabase,
  versions: readonly string[],
  before: ReadonlyMap<string, string | null>,
  was: OsvDatabase | undefined,
): Map<string, string> {
  const touched = was && touchedVersions(was, db, versions);
  return versionDigests(db, touched ? versions.filter((v) => before.get(v) === null || touched.has(v)) : versions, was);
}

export function createRescanBatchActivities(deps: ActivityDeps) {
  const { osv, sbomStore, vex, refreshFor } = scanContext(deps);
  const fleet = new FleetIndex(deps.redis);
  const rescans = new RescanFindingsStore(deps.redis);
  const decisions = new DecisionStore(deps.redis);
  const policy = () => policyFromConfig(deps.config);

  /** The worker's data at the rescan's version (a worker that did not run the refresh refreshes once). */
  const dataAt = async (osvVersion: string, workflowId: string) => {
    if ((await osv.current()).info.version !== osvVersion) await refreshFor(osvVersion, workflowId);
    return osv.current();
  };

  return {
    /**
     * Fingerprints the OSV data (kept until the rescan commits it) and decides: full, or delta with
     * the images to re-match stored for the rescan's pages (listPlanPage).
     */
    planRescan: activity(deps.logger, { input: planInput, failure: 'rescan planning failed' }, async (input, { log, workflowId }): Promise<RescanPlanRef> => {
      const db = await dataAt(input.osvVersion, workflowId);
      const loaded = policy();
      // The data the last rescan matched, if still in memory: its fingerprint is not read back, this
      // data's is made from it, and the plan below carries its hits over.
      const previous = await fleet.fingerprint((version) => {
        const recalled = osv.recall(version);
        return recalled && osvFingerprint(recalled);
      });
      const was = previous && osv.recall(previous.osvVersion);
      const current = { osvVersion: db.info.version, matcher: MATCHER_VERSION, policyVersion: loaded.version, fingerprint: osvFingerprint(db, was) };
      const now = Date.now();
      // A policy bounding scan age is evaluated at admission on each record's scan time: every record must move on.
      const scanAgeBound = loaded.policy.rules.some((r) => r.provenance?.maxScanAge !== undefined);
      const fullDue = previous !== undefined && now - Date.parse(previous.fullAt) >= durationMs(deps.config.rescan.fullInterval);
      // Data that is incomplete or stale denies every image it cannot vouch for: each one must be re-gated.
      const maxAge = osv.maxAgeMs;
      const dataProblem =
        db.info.errors.length > 0
          ? `the OSV data did not load completely (${db.info.errors[0]!.message})`
          : maxAge !== undefined && db.info.ecosystems.some((e) => now - Date.parse(e.updatedAt) > maxAge)
            ? 'the OSV data is stale'
            : undefined;
      const mode = scanAgeBound
        ? ({ mode: 'full', reason: 'the policy bounds scan age (maxScanAge): every record is rescanned' } as const)
        : dataProblem
          ? ({ mode: 'full', reason: dataProblem } as const)
          : fullDue
            ? ({ mode: 'full', reason: `the last full rescan is older than rescan.fullInterval (${deps.config.rescan.fullInterval})` } as const)
            : rescanMode(previous, current, input.full);
      await fleet.stageFingerprint(
        workflowId,
        { ...current, fullAt: mode.mode === 'full' ? new Date(now).toISOString() : previous!.fullAt },
        // A delta stages only the keys that changed (merged over the committed fingerprint when it commits).
        mode.mode === 'delta' ? { osvVersion: previous!.osvVersion, changed: mode.changed } : undefined,
      );
      if (mode.mode === 'full') {
        // Every version the fleet holds, digested against this data: what the next delta compares with.
        // With the data the last rescan matched still in memory, matched by this matcher, only the
        // versions a record changed since touches (or never digested) are digested, as a delta digests
        // them: every other one is hit by the very same records, and keeps its stored digest. Digesting all
        // 614,644 versions of the bench's fleet again took about 6 of such a full rescan's 55 seconds.
        const versions = await fleet.versionsUnder();
        const before = was && previous!.matcher === MATCHER_VERSION ? await fleet.versionDigests(versions) : undefined;
        const digested = before ? digestChanged(db, versions, before, was) : versionDigests(db, versions);
        const digestedVersions = digested.size;
        if (before) for (const v of versions) if (!digested.has(v)) digested.set(v, before.get(v)!);
        await fleet.stageVersionDigests(workflowId, digested, true);
        log.info({ reason: mode.reason, packages: current.fingerprint.size, versions: versions.length, digestedVersions }, 'rescan planned: full');
        return { mode: 'full', reason: mode.reason };
      }
      // Under the changed packages, only the versions whose hits differ from the last rescan's (or were
      // never digested) can have other findings: the images holding one of them are re-matched, unless
      // the data the last rescan matched is still in memory and shows that no change of theirs reaches
      // the findings their decision keeps (mustRematch), with those indexed before versions were (which could hold any).
      const versions = await fleet.versionsUnder(mode.changed);
      const [before, gated, state] = await Promise.all([fleet.versionDigests(versions), allGated(decisions), fleet.state()]);
      const digested = digestChanged(db, versions, before, was);
      const changedVersions = [...digested.keys()].filter((v) => before.get(v) !== digested.get(v));
      const [held, unversioned] = await Promise.all([fleet.holdersOf(changedVersions), fleet.unversionedWith(mode.changed)]);
      let atChanged = [...held.keys()];
      if (was) {
        const cuts = await fleet.cutsOf(atChanged);
        const ranks = new Map<string, number>();
        const changeRank = (entry: string) => ranks.get(entry) ?? ranks.set(entry, versionChangeRank(was, db, entry)).get(entry)!;
        atChanged = atChanged.filter((d) => mustRematch(cuts.get(d), held.get(d)!, changeRank));
      }
      await fleet.stageVersionDigests(workflowId, digested, false);
      const attestBefore = new Date(now + durationMs(deps.config.rescan.interval) + ATTEST_MARGIN_MS - durationMs(deps.config.policy.admission.summaryMaxAge));
      const changedImages = [...new Set([...atChanged, ...unversioned])];
      const { planned, mustRegate } = deltaImages({ changedPackages: changedImages, gated, state, previousOsvVersion: previous!.osvVersion, attestBefore });
      await fleet.storePlan(workflowId, planned);
      await fleet.storeMustRegate(workflowId, mustRegate);
      log.info(
        {
          changedPackages: mode.changed.length,
          versions: versions.length,
          digestedVersions: digested.size,
          changedVersions: changedVersions.length,
          atChangedVersions: held.size,
          // Unknown (every image holding a changed version re-matched) when this worker no longer holds the last rescan's data.
          belowCut: was ? held.size - atChanged.length : 'unknown',
          unversioned: unversioned.length,
          gated: gated.length,
          planned: planned.length,
          mustRegate: mustRegate.length,
        },
        'rescan planned: delta',
      );
      return { mode: 'delta', changedPackages: mode.changed.length, images: planned.length, ...(was ? { belowCut: held.size - atChanged.length } : {}) };
    }),

    /** One page of a delta rescan's planned digests. */
    listPlanPage: activity(deps.logger, { input: pageInput }, async (input, { workflowId }) => fleet.planPage(workflowId, input)),

    /** The rescan is done: its fingerprint is what the next one compares with. */
    commitRescanPlan: activity(deps.logger, {}, async (_input: void, { log, workflowId }): Promise<boolean> => {
      const committed = await fleet.commitFingerprint(workflowId);
      await fleet.dropPlan(workflowId);
      log.info({ committed }, 'rescan fingerprint committed');
      return committed;
    }),

    /**
     * Re-matches the stored SBOMs of `digests` against the rescan's OSV data and keeps the findings
     * for regateBatch. An SBOM that is missing or unreadable is kept as unchecked data (fail closed:
     * the re-gate denies it with the reason), never as no findings. (Rescans that started before
     * rescanGateBatch existed.)
     */
    rescanBatch: activity(
      deps.logger,
      { input: rescanBatchInput, keepAliveMs: 5_000, failure: 'rescan batch failed' },
      async (input, { log, workflowId, heartbeat, resumed, signal }): Promise<RescanBatchResult> => {
        const db = await dataAt(input.osvVersion, workflowId);
        const progress: RescanProgress = isProgress(resumed) ? resumed : { done: 0, matched: 0, unreadable: [], carried: [] };
        if (progress.done > 0) log.info({ done: progress.done, of: input.digests.length }, 'rescan batch resumed');
        while (progress.done < input.digests.length) {
          if (signal.aborted) throw signal.reason;
          const step = input.digests.slice(progress.done, progress.done + STEP);
          // The decision is made later, by regateBatch: no cut is known to stand for it, so a delta re-matches these.
          await fleet.setCuts(new Map(), step);
          await rescans.putMany(await matchStep(db, step, input, progress, workflowId, log));
          progress.done += step.length;
          heartbeat(progress);
        }
        logMatched(log, input, progress);
        return { matched: progress.matched, unreadable: progress.unreadable, carried: progress.carried };
      },
    ),

    /**
     * Re-matches the stored SBOMs of `digests` and re-gates, in one activity, every image that does
     * not match exactly as its decision was gated (a delta's carry; a full rescan re-gates all): the
     * findings go from the matcher to the gate in memory, never through Redis. Fail closed as
     * rescanBatch; a new decision as regateBatch. Heartbeats after each step of images, and a retry
     * resumes after the last step done (each decision record carries the rescan's workflow id).
     */
    rescanGateBatch: activity(
      deps.logger,
      { input: rescanBatchInput, keepAliveMs: 5_000, failure: 'rescan batch failed' },
      async (input, { log, workflowId, heartbeat, resumed, signal }): Promise<RescanGateBatchResult> => {
        const db = await dataAt(input.osvVersion, workflowId);
        const progress: RescanGateProgress = isGateProgress(resumed) ? resumed : { done: 0, matched: 0, unreadable: [], carried: [], gate: emptyGateResult() };
        if (progress.done > 0) log.info({ done: progress.done, of: input.digests.length }, 'rescan batch resumed');
        const gate = gateContext(input.digests);
        while (progress.done < input.digests.length) {
          if (signal.aborted) throw signal.reason;
          // A small step: its images' findings are gated (and garbage) before the next step is matched,
          // rather than outliving the young generation as a larger step's would.
          const step = input.digests.slice(progress.done, progress.done + REGATE_STEP);
          // The findingsDigest the match computed (a delta decides on carrying an image by it) is the one its re-gate records.
          const digested = new Map<string, string>();
          const cuts = new Map<string, number | undefined>();
          // Images that matched as their record was last gated (gatedRecord): the digest of the findings the record then held.
          const asGated = new Map<string, string>();
          const carriedBefore = progress.carried.length;
          const scans = await matchStep(db, step, input, progress, workflowId, log, digested, cuts, asGated);
          await gateStep(
            scans.map((r) => r.digest),
            new Map(scans.map((r) => [r.digest, r])),
            gate,
            progress.gate,
            input.osvVersion,
            workflowId,
            log,
            digested,
            asGated,
          );
          // Each image's cut, now that its decision stands on what it matched (carried, or gated on it);
          // forgotten for the others (a failed gate, no decision, unchecked): a delta re-matches them.
          const carried = new Set(progress.carried.slice(carriedBefore));
          const kept = new Map<string, number>();
          for (const [d, cut] of cuts) if (cut !== undefined && (carried.has(d) || gate.pending.gatedOn.has(d))) kept.set(d, cut);
          await fleet.setCuts(
            kept,
            step.filter((d) => !kept.has(d)),
          );
          await gate.flush();
          progress.done += step.length;
          heartbeat(progress);
        }
        logMatched(log, input, progress);
        logGated(log, input.digests.length, progress.gate);
        const { gate: result } = progress;
        if (result.failed.length > MAX_BATCH_PROBLEMS) result.failed = result.failed.slice(0, MAX_BATCH_PROBLEMS);
        return { matched: progress.matched, unreadable: progress.unreadable, carried: progress.carried, ...result };
      },
    ),

    /**
     * Re-gates `digests` on the findings rescanBatch kept: a new decision when the verdict or the
     * findings changed (break-glass overrides kept), otherwise the record's scan time moves on. Safe to
     * retry (each record carries the rescan's workflow id). Returns counts, and the images that need more.
     */
    regateBatch: activity(
      deps.logger,
      { input: batchInput, keepAliveMs: 5_000, failure: 'rescan gate batch failed' },
      async (input, { log, workflowId, heartbeat, signal }): Promise<RegateBatchResult> => {
        const result = emptyGateResult();
        const gate = gateContext(input.digests);
        for (let start = 0; start < input.digests.length; start += REGATE_STEP) {
          if (signal.aborted) throw signal.reason;
          const step = input.digests.slice(start, start + REGATE_STEP);
          await gateStep(step, await rescans.getMany(step, input.osvVersion), gate, result, input.osvVersion, workflowId, log);
          heartbeat({ done: start + step.length });
        }
        await gate.flush();
        if (result.failed.length > MAX_BATCH_PROBLEMS) result.failed = result.failed.slice(0, MAX_BATCH_PROBLEMS);
        logGated(log, input.digests.length, result);
        return result;
      },
    ),
  };

  /**
   * Re-matches one step of images: reads their rescan views (one MGET; the SBOM of an image stored
   * without one: sbomStore.getViews), indexes those not indexed yet, reads the VEX attached to each,
   * and returns what to re-gate: every image whose SBOM is missing or whose view or SBOM is
   * unreadable (as unchecked data), and every matched one not carried.
   */
  async function matchStep(
    db: OsvDatabase,
    step: readonly string[],
    input: z.infer<typeof rescanBatchInput>,
    progress: RescanProgress,
    workflowId: string,
    log: ActivityLog,
    digested?: Map<string, string>,
    cuts?: Map<string, number | undefined>,
    asGated?: Map<string, string>,
  ): Promise<StoredRescan[]> {
    const [stored, indexed, gatedOn, gatedRecord, must] = await Promise.all([
      sbomStore.getViews(step),
      fleet.indexed(step),
      input.carry ? fleet.gatedOn(step) : [],
      // An image re-gated on what its record was gated on (a full rescan's, most of them) is re-gated without digesting its findings.
      digested ? fleet.gatedRecord(step) : [],
      input.carry ? fleet.mustRegate(workflowId, step) : [],
    ]);
    const now = new Date();
    const vexLimit = pLimit(VEX_CONCURRENCY);
    const puts: StoredRescan[] = [];
    /**
     * Reads, checks and re-matches one rescan view in one go (no await between), so the decoded
     * view is garbage before the next image's: only the summary and the keys to index outlive it.
     * A string: why the image cannot be matched (no SBOM, or its view or SBOM unreadable).
     */
    const rematchOne = (digest: string, index: boolean) => {
      const scan = stored.get(digest)?.();
      if (scan === undefined || scan instanceof ChainError) return scan === undefined ? `no stored SBOM for ${digest}` : scan.message;
      const rematched = rematchStored(db, scan, sbomStore.ref(digest), now, osv.maxAgeMs);
      return {
        summary: rematched.summary,
        findings: rematched.findings,
        digest: rematched.digest,
        index: index ? rematched.index() : undefined,
        cut: rematched.cut,
      };
    };
    const ok: string[] = [];
    await Promise.all(
      step.map((digest, i) =>
        vexLimit(async () => {
          const matched = rematchOne(digest, !indexed[i]);
          if (typeof matched === 'string') {
            if (progress.unreadable.length < MAX_BATCH_PROBLEMS) progress.unreadable.push({ digest, error: matched });
            else progress.unreadable.push({ digest, error: '' });
            puts.push(uncheckedRescan(db, digest, input.osvVersion, matched, now, osv.maxAgeMs));
            return;
          }
          const { summary, findings, digest: inputsDigest, index, cut } = matched;
          cuts?.set(digest, cut);
          if (index) await fleet.add(digest, index, input.osvVersion);
          // VEX attached since the gate counts from this rescan on; unreadable: the gate's statements stay.
          let attached: VexStatement[] | undefined;
          try {
            const read = await vex.read(deps.registry(summary.registry), summary.repository, digest);
            if (read.problems.length) log.warn({ digest, problems: read.problems.slice(0, 20) }, 'VEX attestations not applied');
            attached = read.statements;
          } catch (err) {
            log.warn({ digest, err }, 'VEX attestations unreadable; the statements of the last decision stay in force');
          }
          ok.push(digest);
          // From the keys the match kept: the re-gate records it as what the decision was gated on.
          const inputs = input.carry || digested ? inputsDigest(attached) : undefined;
          if (input.carry && !must[i] && gatedOn[i] === inputs) {
            progress.carried.push(digest);
            return;
          }
          const record = gatedRecord[i];
          const heldThen = inputs === undefined ? undefined : heldThenOf(record, inputs);
          if (heldThen !== undefined && asGated) {
            asGated.set(digest, heldThen);
            progress.asGated = (progress.asGated ?? 0) + 1;
          }
          if (inputs !== undefined) digested?.set(digest, inputs);
          puts.push({
            digest,
            osvVersion: input.osvVersion,
            scannedAt: summary.scannedAt,
            // To the gate in memory (`digested`: rescanGateBatch), which reads no layer: the cache's findings,
            // whose facts are made once across the fleet. Stored for regateBatch: each in this image's layer.
            findings: digested ? [...findings] : summary.findings,
            vulnerabilityData: summary.osv,
            counts: summary.counts,
            ...(attached ? { vex: attached } : {}),
          });
        }),
      ),
    );
    await fleet.setMatched(ok, input.osvVersion);
    progress.matched += ok.length;
    return puts;
  }

  /** What a batch's re-gate keeps between its steps, written to the fleet index once per step of images (flush). */
  function gateContext(batch: readonly string[]) {
    const attestBefore = Date.now() + durationMs(deps.config.rescan.interval) + ATTEST_MARGIN_MS - durationMs(deps.config.policy.admission.summaryMaxAge);
    // Read on the first re-gate: a batch whose images were all carried reads nothing.
    let state: Promise<Map<string, string>> | undefined;
    const pending = {
      unnotified: [] as string[],
      gatedOn: new Map<string, string>(),
      gatedRecord: new Map<string, string | null>(),
      ungated: [] as string[],
      signs: [] as string[],
      unsigned: [] as string[],
    };
    return {
      loaded: policy(),
      attestBefore,
      state: () => (state ??= fleet.attestedOf(batch)),
      pending,
      async flush() {
        await fleet.setUnnotified(pending.unnotified, []);
        await fleet.setGated(pending.gatedOn, pending.gatedRecord, pending.ungated);
        // Known from now on as signed by the chain: a summary to keep fresh ('' = none yet).
        await fleet.setAttested(pending.signs, '');
        await fleet.dropAttested(pending.unsigned);
        pending.unnotified = [];
        pending.gatedOn = new Map();
        pending.gatedRecord = new Map();
        pending.ungated = [];
        pending.signs = [];
        pending.unsigned = [];
      },
    };
  }

  /**
   * Re-gates `step` on its rescanned findings: a new decision when the verdict or the findings
   * changed (break-glass overrides kept), otherwise the record's scan time moves on. Counts into `result`.
   */
  async function gateStep(
    step: readonly string[],
    scans: ReadonlyMap<string, StoredRescan | undefined | ChainError>,
    gate: ReturnType<typeof gateContext>,
    result: RegateBatchResult,
    osvVersion: string,
    workflowId: string,
    log: ActivityLog,
    digested?: ReadonlyMap<string, string>,
    asGated?: ReadonlyMap<string, string>,
  ): Promise<void> {
    const limit = pLimit(REGATE_CONCURRENCY);
    const state = await gate.state();
    await Promise.all(
      step.map((digest) =>
        limit(async () => {
          const scan = scans.get(digest);
          if (!scan || scan instanceof ChainError) {
            const why = scan ? scan.message : `no rescanned findings of ${digest} for OSV data ${osvVersion} (expired or lost): the next rescan matches again`;
            result.failed.push({ digest, error: why });
            return;
          }
          try {
            const at = new Date();
            let outcome: RegateOutcome | undefined;
            // The digest of the findings the record holds once updated: what gatedRecord pairs with what it was gated on.
            let recordFindings: string | undefined;
            // Findings on demand: the stored ones are fetched only if regate cannot tell them by their digests
            // (most images: it can), and `previous` is read below for its head alone.
            const { previous } = await decisions.update(
              digest,
              (latest, stored) => {
                if (!latest) return undefined;
                // Taken as gated only while the record holds the findings it held then (another write since changes their digest).
                const heldThen = asGated?.get(digest);
                const same = heldThen !== undefined && stored !== undefined && stored.digest === heldThen;
                const r = regate(latest, same ? { ...scan, asGated: true } : scan, { policy: gate.loaded, now: at, workflowId, osvVersion }, stored);
                outcome = r.outcome;
                recordFindings = r.update?.kind === 'decision' ? findingFactsDigest(r.update.record.facts.findings) : stored?.digest;
                // A follow-up reads the decision's violations, kept apart from the head: read here, where
                // update fetches them for a decision kept as it was.
                if (followUpOf(r.outcome, state.get(digest), gate.attestBefore).wanted) void r.outcome.decision.violations;
                return r.update;
              },
              { findingsOnDemand: true },
            );
            if (!previous || !outcome) {
              result.skipped++;
              return;
            }
            // Unchecked data (no SBOM) is never carried: it has no matched packages to compare.
            if (!scan.vulnerabilityData?.problems.some((p) => p.kind === 'missing' && p.ecosystem === '*')) {
              const inputs = digested?.get(digest) ?? findingsDigest(scan.findings, scan.vex);
              gate.pending.gatedOn.set(digest, inputs);
              gate.pending.gatedRecord.set(digest, recordFindings === undefined ? null : gatedRecordOf(inputs, recordFindings));
            } else gate.pending.ungated.push(digest);
            if (outcome.recorded) result.recorded++;
            if (outcome.overridden) result.overridden++;
            if (outcome.verdict === 'unchanged') result.unchanged++;
            else if (outcome.verdict === 'denied') result.changedToDenied++;
            else result.changedToAllowed++;
            if (outcome.notify) gate.pending.unnotified.push(digest);
            const last = state.get(digest);
            const { signed, attest, wanted } = followUpOf(outcome, last, gate.attestBefore);
            if (signed && last === undefined) gate.pending.signs.push(digest);
            // Denied and not signed by the chain any more: no summary to keep fresh.
            if (!signed && last !== undefined) gate.pending.unsigned.push(digest);
            if (!wanted) return;
            const { decision, ...rest } = outcome;
            const fields = {
              digest,
              verdict: outcome.verdict,
              allowed: outcome.allowed,
              recorded: outcome.recorded,
              notify: outcome.notify,
              overridden: outcome.overridden,
            };
            if (outcome.verdict === 'denied')
              log.warn(
                fields,
                `rescan: now denied — ${decision.violations
                  .filter((v) => v.enforced)
                  .map((v) => v.message)
                  .join('; ')}`,
              );
            else if (outcome.verdict === 'allowed') log.info(fields, 'rescan: now allowed');
            else if (outcome.overridden && outcome.notify) log.warn(fields, 'rescan: new violations under a break-glass override');
            result.followUps.push({
              ...rest,
              digest,
              registry: previous.facts.registry,
              repository: previous.facts.repository,
              policyVersion: decision.policyVersion,
              violations: decision.violations.filter((v) => v.enforced).slice(0, MAX_REPORTED_VIOLATIONS),
              osvVersion,
              ...(scan.counts ? { counts: scan.counts } : {}),
              attest,
            });
          } catch (err) {
            result.failed.push({ digest, error: (err as Error).message });
          }
        }),
      ),
    );
  }
}

type ActivityLog = Parameters<Parameters<typeof activity>[2]>[1]['log'];

/**
 * What a re-gated image's outcome asks of the rescan: `signed`, a verdict the chain signs; `attest`,
 * signed again (its verdict changed, or the last summary, attested at `last`, expires before the next
 * rescan); `wanted`, a follow-up (an attestation, a notification or a verdict now allowed), which
 * reads the decision's violations.
 */
function followUpOf(outcome: RegateOutcome, last: string | undefined, attestBefore: number): { signed: boolean; attest: boolean; wanted: boolean } {
  const signed = outcome.allowed || outcome.previousAllowed || outcome.overridden;
  const due = last === undefined || last === '' || !(Date.parse(last) > attestBefore);
  const attest = signed && (outcome.recorded || outcome.verdict !== 'unchanged' || due);
  return { signed, attest, wanted: attest || outcome.notify !== undefined || outcome.verdict !== 'unchanged' };
}

function emptyGateResult(): RegateBatchResult {
  return { recorded: 0, overridden: 0, unchanged: 0, changedToDenied: 0, changedToAllowed: 0, skipped: 0, failed: [], followUps: [] };
}

function logMatched(log: ActivityLog, input: { digests: readonly string[]; osvVersion: string }, progress: RescanProgress): void {
  const unreadable = progress.unreadable.filter((p) => p.error !== '');
  if (progress.unreadable.length) log.warn({ unreadable: progress.unreadable.length, first: unreadable.slice(0, 5) }, 'stored SBOMs missing or unreadable');
  log.info({ images: input.digests.length, matched: progress.matched, asGated: progress.asGated ?? 0, osvVersion: input.osvVersion }, 'rescan batch matched');
  if (progress.carried.length) log.info({ carried: progress.carried.length }, 'images matched as their decision was gated: kept as they are');
}

function logGated(log: ActivityLog, images: number, result: RegateBatchResult): void {
  log.info(
    {
      images,
      recorded: result.recorded,
      changedToDenied: result.changedToDenied,
      changedToAllowed: result.changedToAllowed,
      followUps: result.followUps.length,
    },
    'rescan batch re-gated',
  );
}

function isGateProgress(value: unknown): value is RescanGateProgress {
  const v = value as Partial<RescanGateProgress> | undefined;
  return isProgress(value) && typeof v?.gate?.recorded === 'number' && Array.isArray(v.gate.followUps) && Array.isArray(v.gate.failed);
}

function isProgress(value: unknown): value is RescanProgress {
  const v = value as Partial<RescanProgress> | undefined;
  return typeof v?.done === 'number' && typeof v.matched === 'number' && Array.isArray(v.unreadable) && Array.isArray(v.carried);
}

async function allGated(store: DecisionStore): Promise<string[]> {
  const out: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.listDigests({ ...(after === undefined ? {} : { after }), limit: PLAN_PAGE });
    out.push(...page.digests);
    if (page.next === undefined) return out;
    after = page.next;
  }
}
