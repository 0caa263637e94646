/**
 * rescan: run by the rescan schedule (daily by default). Refreshes the OSV data once, then walks
 * every digest that has a gate decision, a page at a time: re-matches its stored SBOM (no layer
 * pull), re-evaluates the policy on the new findings, records a new decision when the verdict or
 * the findings changed (break-glass overrides kept), and notifies subscribers when an image's
 * verdict changed or its override covers new enforced violations — or when an earlier rescan could
 * not tell them. Findings stay in Redis between the steps; the history carries counts only. Long
 * fleets continue as new with a cursor, so no run outgrows its history.
 */
import { ApplicationFailure, continueAsNew, defineQuery, isCancellation, log, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ChainActivities } from '../activities';
import { activityCause, failureText } from './failures';
import { scanTaskQueue } from './task-queues';
import { failureType, QUERIES } from '../src/chain/names';
import { type RescanInput, type RescanProblem, type RescanSettings, type RescanSummary } from '../src/chain/rescan';

/** A re-gated image as the follow-up steps read it (from regateImage and the scan, or from regateBatch). */
type FollowUpOf = Omit<Awaited<ReturnType<ChainActivities['regateImage']>>, 'findingsChanged'> & {
  registry: string;
  counts?: Awaited<ReturnType<ChainActivities['rescanImage']>>['counts'];
  attest: boolean;
};

export const rescanProgressQuery = defineQuery<RescanSummary>(QUERIES.rescanProgress);

/** Continue as new well before Temporal's limits (51,200 events / 50 MB; it warns at 10,240 events / 10 MB). */
const MAX_HISTORY_EVENTS = 8_000;
const MAX_HISTORY_BYTES = 8 * 1024 * 1024;
const MAX_PROBLEMS = 50;

const RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 } as const;

const indexActivities = proxyActivities<ChainActivities>({ startToCloseTimeout: '1m', retry: { ...RETRY, maximumInterval: '1m', maximumAttempts: 10 } });
const gateActivities = proxyActivities<ChainActivities>({ startToCloseTimeout: '1m', retry: RETRY });
// Signing and pushing one attestation per registry; heartbeats between registries.
const attestActivities = proxyActivities<ChainActivities>({ startToCloseTimeout: '2m', heartbeatTimeout: '30s', retry: RETRY });
const notifyActivities = proxyActivities<ChainActivities>({ startToCloseTimeout: '1m', retry: { ...RETRY, maximumInterval: '1m', maximumAttempts: 12 } });

export async function rescan(input: RescanInput): Promise<RescanSummary> {
  const batchSize = positive('batchSize', input.batchSize);
  const concurrency = positive('concurrency', input.concurrency);
  if (input.batchesPerRun !== undefined) positive('batchesPerRun', input.batchesPerRun);
  if (input.parallelBatches !== undefined) positive('parallelBatches', input.parallelBatches);
  const scanQueue = scanTaskQueue(workflowInfo().taskQueue);
  // A refresh may download the OSV exports.
  const refreshActivities = proxyActivities<ChainActivities>({ taskQueue: scanQueue, startToCloseTimeout: '30m', retry: RETRY });
  // A re-match takes milliseconds; a stuck one is retried soon (a worker on other data refreshes it once, shared by retries).
  const rescanActivities = proxyActivities<ChainActivities>({ taskQueue: scanQueue, startToCloseTimeout: '2m', retry: RETRY });

  const summary: RescanSummary = input.progress
    ? { ...input.progress, runs: input.progress.runs + 1 }
    : {
        osv: { version: '', records: 0 },
        checked: 0,
        changedToDenied: 0,
        changedToAllowed: 0,
        unchanged: 0,
        skipped: 0,
        failed: 0,
        recorded: 0,
        overridden: 0,
        notified: 0,
        problems: [],
        runs: 1,
        startedAt: workflowInfo().runStartTime.toISOString(),
      };
  // Answers from the start, the OSV refresh (which may take minutes) included.
  setHandler(rescanProgressQuery, () => summary);
  if (!input.progress) {
    const osv = await refreshActivities.refreshOsvData();
    summary.osv = { version: osv.version, records: osv.records };
    log.info('rescan started', { osvVersion: osv.version, osvRecords: osv.records, rejectedRecords: osv.rejected });
  }

  const problem = (digest: string, step: RescanProblem['step'], err: unknown) => {
    if (summary.problems.length < MAX_PROBLEMS) summary.problems.push({ digest, step, error: failureText(err) });
  };

  const rescanOne = async (digest: string): Promise<void> => {
    summary.checked++;
    let scan;
    try {
      scan = await rescanActivities.rescanImage({ digest, osvVersion: summary.osv.version });
    } catch (err) {
      if (isCancellation(err)) throw err; // the rescan is cancelled: stop, do not count it as the image's failure
      countFailure(digest, 'rescan', err);
      return;
    }
    let result;
    try {
      result = await gateActivities.regateImage({ digest, osvVersion: scan.osv.version });
    } catch (err) {
      if (isCancellation(err)) throw err;
      countFailure(digest, 'regate', err);
      return;
    }
    if (result.recorded) summary.recorded++;
    if (result.overridden) summary.overridden++;
    if (result.verdict === 'unchanged') summary.unchanged++;
    else if (result.verdict === 'denied') summary.changedToDenied++;
    else summary.changedToAllowed++;
    await followUp({ ...result, registry: scan.registry, counts: scan.counts, attest: result.allowed || result.previousAllowed || result.overridden });
  };

  /** What a re-gated image needs besides its decision: a restart, a fresh summary, its deployments, a rebuild, a notification. */
  const followUp = async (result: FollowUpOf): Promise<void> => {
    const { digest } = result;
    // A blocked image the rescan now allows starts its chain again (rescan.startUnblocked; the queue
    // worker starts it only if its last run was blocked). Added later: older histories replay without it.
    if (result.verdict === 'allowed' && patched('unblock-on-rescan')) {
      try {
        await gateActivities.restartUnblocked({ digest });
      } catch (err) {
        if (isCancellation(err)) throw err;
        problem(digest, 'regate', err);
        log.warn('rescan: unblocked chain not queued', { digest, error: failureText(err) });
      }
    }
    // The verdict of an image the chain signed (allowed now or before) is signed again: a fresh SLSA VSA
    // in the source and every target, so registry-only admission sees a revocation at once and a
    // re-confirmed verdict stays within its max age (`attest`: always unbatched; batched, when the verdict
    // or findings changed or the last summary expires before the next rescan). Histories recorded before
    // this step replay without it.
    if (result.attest && patched('rescan-fresh-vsa')) {
      try {
        await attestActivities.attestVerdict({ digest, osvVersion: result.osvVersion });
      } catch (err) {
        if (isCancellation(err)) throw err;
        // The decision store has the verdict (decision-store admission follows it); the next rescan attests again.
        problem(digest, 'attest', err);
        log.warn('rescan: verdict not attested', { digest, error: failureText(err) });
      }
    }
    if (!result.notify) return;
    // A denied digest that runs somewhere: name its workloads to subscribers and post an ImageVulnerable
    // Event on each (in this worker's cluster). Histories recorded before this step replay without it.
    let deployments: Array<{ cluster: string; namespace: string; kind: string; name: string; pods: string[] }> | undefined;
    if (result.notify === 'denied' && patched('rescan-deployed-workloads')) {
      try {
        deployments = (await gateActivities.deployedWorkloads({ digest, findings: result.violations.map((v) => v.message), postEvents: true })).workloads;
      } catch (err) {
        if (isCancellation(err)) throw err;
        // Subscribers still hear of the denial; the failure is reported with the summary.
        problem(digest, 'deployments', err);
        log.warn('rescan: deployed workloads not reported', { digest, error: failureText(err) });
      }
    }
    // A denied image that runs somewhere and that the chain built from source: its ref is built again.
    let rebuild: string | undefined;
    if (deployments?.length && patched('rescan-rebuild-deployed')) {
      try {
        rebuild = await gateActivities.rebuildDeployed({ digest });
      } catch (err) {
        if (isCancellation(err)) throw err;
        problem(digest, 'rebuild', err);
        log.warn('rescan: rebuild not queued', { digest, error: failureText(err) });
      }
    }
    try {
      await notifyActivities.notifySubscribers({
        registry: result.registry,
        repository: result.repository,
        digest,
        event: `rescan.${result.notify}`,
        scope: digest,
        payload: {
          verdict: result.notify,
          previousVerdict: result.previousAllowed ? 'allowed' : 'denied',
          // Denied by policy, still admitted by a break-glass override: new enforced violations to look at.
          overridden: result.overridden,
          policyVersion: result.policyVersion,
          osvVersion: result.osvVersion,
          ...(result.counts === undefined ? {} : { counts: result.counts }),
          violations: result.violations,
          ...(deployments === undefined ? {} : { deployments }),
          ...(rebuild === undefined ? {} : { rebuild }),
        },
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      // The decision is recorded (admission already follows it); the next rescan sends the message.
      problem(digest, 'notify', err);
      log.warn('rescan: subscribers not notified', { digest, verdict: result.verdict, error: failureText(err) });
      return;
    }
    summary.notified++;
    try {
      await gateActivities.markRescanNotified({ digest });
    } catch (err) {
      if (isCancellation(err)) throw err;
      problem(digest, 'notify', err);
      log.warn('rescan: notification not marked; the next rescan sends it again', { digest, error: failureText(err) });
    }
  };

  const countFailure = (digest: string, step: RescanProblem['step'], err: unknown) => {
    if (isNotFound(err)) {
      // Counted only: a digest without a stored SBOM or decision is expected, and would crowd out real failures.
      summary.skipped++;
      log.info('rescan: image skipped', { digest, step, reason: failureText(err) });
      return;
    }
    summary.failed++;
    problem(digest, step, err);
    log.warn('rescan: image failed', { digest, step, error: failureText(err) });
  };

  let cursor = input.cursor;
  let pages = 0;
  let doneThisRun = 0;
  const historyFull = () => {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS || info.historySize > MAX_HISTORY_BYTES;
  };

  // Batched (set by the schedule; added later, so histories of unbatched rescans replay without it):
  // a page of images per re-match and per re-gate activity, and between full rescans only the images
  // under packages whose OSV records changed.
  if (input.batched && patched('rescan-batched')) {
    // A batch heartbeats after every step of 100 images: a lost worker is noticed within a minute and
    // the retry resumes after the last step done.
    const batchActivities = proxyActivities<ChainActivities>({ taskQueue: scanQueue, startToCloseTimeout: '20m', heartbeatTimeout: '1m', retry: RETRY });
    const regateActivities = proxyActivities<ChainActivities>({ startToCloseTimeout: '20m', heartbeatTimeout: '1m', retry: RETRY });
    let plan = input.plan;
    if (!plan) {
      plan = await batchActivities.planRescan({ osvVersion: summary.osv.version, ...(input.full ? { full: true } : {}) });
      summary.plan = plan;
      log.info('rescan planned', { ...plan });
    }
    const osvVersion = summary.osv.version;
    const runBatch = async (digests: string[]): Promise<void> => {
      summary.checked += digests.length;
      const carry = plan.mode === 'delta' ? { carry: true } : {};
      const batchFailed = (step: RescanProblem['step'], images: string[], err: unknown) => {
        summary.failed += images.length;
        problem(images[0] ?? '', step, err);
        log.warn(`rescan: ${step === 'rescan' ? 'batch' : 'gate batch'} failed`, { images: images.length, first: images[0], error: failureText(err) });
      };
      /** Counts a batch's re-gate and runs the follow-ups it asks for. */
      const gated = async (result: Awaited<ReturnType<ChainActivities['regateBatch']>>) => {
        summary.recorded += result.recorded;
        summary.overridden += result.overridden;
        summary.unchanged += result.unchanged;
        summary.changedToDenied += result.changedToDenied;
        summary.changedToAllowed += result.changedToAllowed;
        summary.skipped += result.skipped;
        summary.failed += result.failed.length;
        for (const f of result.failed) problem(f.digest, 'regate', f.error);
        await inParallel(
          result.followUps,
          concurrency,
          followUp,
          () => false,
          () => undefined,
        );
      };
      // One activity re-matches and re-gates a batch: the findings stay in the worker's memory. Added
      // later: histories of batches re-matched and re-gated by two activities replay without it.
      if (patched('rescan-match-and-gate')) {
        let done;
        try {
          done = await batchActivities.rescanGateBatch({ digests, osvVersion, ...carry });
        } catch (err) {
          if (isCancellation(err)) throw err;
          batchFailed('rescan', digests, err);
          return;
        }
        // Denied by the re-gate, with the reason: reported too, so an operator rescans the image.
        for (const u of done.unreadable) if (u.error) problem(u.digest, 'rescan', u.error);
        // Matched exactly as their decision was gated: the decision stands.
        summary.unchanged += done.carried.length;
        await gated(done);
        return;
      }
      let matched;
      try {
        matched = await batchActivities.rescanBatch({ digests, osvVersion, ...carry });
      } catch (err) {
        if (isCancellation(err)) throw err;
        batchFailed('rescan', digests, err);
        return;
      }
      for (const u of matched.unreadable) if (u.error) problem(u.digest, 'rescan', u.error);
      summary.unchanged += matched.carried.length;
      const carried = new Set(matched.carried);
      const toGate = digests.filter((d) => !carried.has(d));
      if (toGate.length === 0) return;
      let result;
      try {
        result = await regateActivities.regateBatch({ digests: toGate, osvVersion });
      } catch (err) {
        if (isCancellation(err)) throw err;
        batchFailed('regate', toGate, err);
        return;
      }
      await gated(result);
    };
    // Batches in flight at once (rescan.parallelBatches): each is one activity that any scan worker takes,
    // so a fleet rescan spreads over every scan worker's cores instead of waiting on one batch at a time.
    // The next page is listed while earlier batches run. Added later: older histories replay one at a time.
    const parallel = input.parallelBatches !== undefined && input.parallelBatches > 1 && patched('rescan-parallel-batches') ? input.parallelBatches : 1;
    const inFlight = new Set<Promise<void>>();
    const dispatch = (digests: string[]) => {
      const running: Promise<void> = runBatch(digests).finally(() => inFlight.delete(running));
      // Handled here so a cancellation arriving while the next page is listed is not an unhandled
      // rejection; it still rejects the Promise.race or Promise.all that waits for this batch.
      running.catch(() => undefined);
      inFlight.add(running);
    };
    for (;;) {
      const after = cursor === undefined ? {} : { after: cursor };
      const page =
        plan.mode === 'delta'
          ? await indexActivities.listPlanPage({ ...after, limit: batchSize })
          : await indexActivities.listGatedDigests({ ...after, limit: batchSize });
      if (page.digests.length) {
        if (parallel === 1) await runBatch(page.digests);
        else dispatch(page.digests);
      }
      pages++;
      cursor = page.next;
      if (cursor === undefined) break;
      // A free lane before the next page is listed: at most `parallel` batches run at once.
      while (inFlight.size >= parallel) await Promise.race(inFlight);
      if (!historyFull() && (input.batchesPerRun === undefined || pages < input.batchesPerRun)) continue;
      // Every batch listed before the cursor is done before the next run starts after it.
      await Promise.all(inFlight);
      log.info('rescan continues as new', { cursor, checked: summary.checked, historyLength: workflowInfo().historyLength });
      await continueAsNew<typeof rescan>({
        batchSize,
        concurrency,
        ...(input.parallelBatches === undefined ? {} : { parallelBatches: input.parallelBatches }),
        batched: true,
        ...(input.batchesPerRun === undefined ? {} : { batchesPerRun: input.batchesPerRun }),
        ...(input.full ? { full: true } : {}),
        cursor,
        plan,
        progress: summary,
      });
    }
    await Promise.all(inFlight);
    // An image that failed keeps the fingerprint the next rescan compares with at the last one
    // committed, so the next delta covers whatever this one could not finish.
    if (summary.failed === 0) await indexActivities.commitRescanPlan();
    summary.finishedAt = new Date().toISOString();
    log.info('rescan finished', { ...summary, problems: summary.problems.length });
    return summary;
  }

  for (;;) {
    const page = await indexActivities.listGatedDigests({ ...(cursor === undefined ? {} : { after: cursor }), limit: batchSize });
    // Stop taking images once the history is full; the ones started finish, the rest wait for the next run.
    const taken = await inParallel(
      page.digests,
      concurrency,
      rescanOne,
      () => doneThisRun > 0 && historyFull(),
      () => doneThisRun++,
    );
    pages++;
    if (taken < page.digests.length) {
      // The history filled up: the next run starts after the last image taken (or where this page started).
      if (taken > 0) cursor = page.digests[taken - 1];
    } else {
      cursor = page.next;
      if (cursor === undefined) break;
      if (!historyFull() && (input.batchesPerRun === undefined || pages < input.batchesPerRun)) continue;
    }
    log.info('rescan continues as new', {
      cursor,
      checked: summary.checked,
      historyLength: workflowInfo().historyLength,
      historySize: workflowInfo().historySize,
    });
    await continueAsNew<typeof rescan>({
      batchSize,
      concurrency,
      ...(input.batchesPerRun === undefined ? {} : { batchesPerRun: input.batchesPerRun }),
      cursor,
      progress: summary,
    });
  }

  summary.finishedAt = new Date().toISOString();
  log.info('rescan finished', { ...summary, problems: summary.problems.length });
  return summary;
}

/**
 * Runs `fn` over `items`, at most `limit` at a time, in order; stops taking new items once `stop()`
 * says so. Returns how many were taken (they form a prefix of `items`, all finished).
 */
async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>, stop: () => boolean, onDone: () => void): Promise<number> {
  let next = 0;
  const lane = async () => {
    while (next < items.length && !stop()) {
      const item = items[next++] as T;
      await fn(item);
      onDone();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return next;
}

function positive(name: keyof RescanSettings, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw ApplicationFailure.create({
      message: `rescan setting ${name} must be a positive integer, got ${String(value)}`,
      type: failureType('BAD_INPUT'),
      nonRetryable: true,
    });
  }
  return value;
}

function isNotFound(err: unknown): boolean {
  return activityCause(err)?.type === failureType('NOT_FOUND');
}
