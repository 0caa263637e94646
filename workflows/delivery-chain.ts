/**
 * deliveryChain: one durable run per image digest — build → scan → gate → sign → sync → distribute.
 * Deterministic orchestration only: every effect is an activity (activities/), every stage result
 * is kept for the `status` query, and search attributes let ops filter runs in the Temporal UI.
 */
import {
  ApplicationFailure,
  defineQuery,
  defineSignal,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ChainActivities } from '../activities';
import { DcCriticalCount, DcDigest, DcFailedStage, DcHighCount, DcRepository, DcStage, DcTags, DcVerdict } from './search-attributes';
import { activityCause, failureText } from './failures';
import { scanTaskQueue } from './task-queues';
import { type AddTagsSignal, type ChainInput } from '../src/chain/input';
import { FAILURE_TYPES, QUERIES, SIGNALS } from '../src/chain/names';
import { type BreakGlass, type ChainStage, type ChainStatus, type StageName } from '../src/chain/status';

export const addTagsSignal = defineSignal<[AddTagsSignal]>(SIGNALS.addTags);
export const breakGlassSignal = defineSignal<[BreakGlass]>(SIGNALS.breakGlass);
export const statusQuery = defineQuery<ChainStatus>(QUERIES.status);

const PAST_GATE: ReadonlySet<ChainStage> = new Set(['sign', 'sync', 'distribute', 'done', 'failed']);

/** The patch that added DcFailedStage (set when a run fails, removed when one completes). */
const FAILED_STAGE_PATCH = 'failed-stage-attribute';

const RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 8 } as const;

/** Predicate types of the attestations the sign stage attaches (as cosign names them where it does). */
const PREDICATE = {
  vulnerabilityScan: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  gateDecision: 'https://delivery-chain.dev/attestation/gate-decision/v1',
} as const;

// Build (a registry push), sign and distribute heartbeat every 5 s while they run (KEEP_ALIVE_MS, activities/activity.ts):
// a worker killed in one of them is noticed within 20 s and the attempt resumes elsewhere, not after
// the start-to-close timeout. Timeouts are not part of the history's commands: old runs replay.
const KEPT_ALIVE = '20s';
const registry = proxyActivities<ChainActivities>({ startToCloseTimeout: '2m', heartbeatTimeout: KEPT_ALIVE, retry: RETRY });
// A notification may arrive a moment before its manifest is readable; beyond ~15 s the run fails and
// the lifecycle rules (a re-push, reconcile or `dchain chain retry`) start a new one.
const recording = proxyActivities<ChainActivities>({
  startToCloseTimeout: '2m',
  heartbeatTimeout: KEPT_ALIVE,
  retry: { ...RETRY, maximumInterval: '8s', maximumAttempts: 5 },
});
// Recording how a run ended must not fail the run's own outcome: retried a while, then given up (logged).
const lifecycle = proxyActivities<ChainActivities>({ startToCloseTimeout: '30s', retry: { ...RETRY, maximumInterval: '30s', maximumAttempts: 10 } });
// Long copies heartbeat: a worker that dies mid-copy is noticed within 30 s and the copy resumes elsewhere.
const copying = proxyActivities<ChainActivities>({ startToCloseTimeout: '30m', heartbeatTimeout: '30s', retry: RETRY });
const gate = proxyActivities<ChainActivities>({ startToCloseTimeout: '1m', retry: RETRY });
// Builds and scans heartbeat at least every 10 s: a killed worker's activity resumes elsewhere within 30 s.
const building = proxyActivities<ChainActivities>({ startToCloseTimeout: '1h', heartbeatTimeout: '30s', retry: RETRY });
const distribute = proxyActivities<ChainActivities>({ startToCloseTimeout: '1m', heartbeatTimeout: KEPT_ALIVE, retry: { ...RETRY, maximumAttempts: 12 } });

export async function deliveryChain(input: ChainInput): Promise<ChainStatus> {
  const status: ChainStatus = { stage: 'build', tags: [...new Set(input.tags)], results: {} };
  setHandler(statusQuery, () => status);
  setHandler(addTagsSignal, ({ tags }) => {
    status.tags = [...new Set([...status.tags, ...tags])];
    upsertSearchAttributes([{ key: DcTags, value: status.tags }]);
  });
  setHandler(breakGlassSignal, (override) => {
    // Only a chain that has not passed its gate can be let through it; later, the override would override nothing.
    if (PAST_GATE.has(status.stage)) {
      log.warn('break-glass ignored: the chain is past its gate', { stage: status.stage, actor: override.actor });
      return;
    }
    // One override per run: the first one stands (and is the one recorded).
    if (status.override) {
      log.warn('break-glass ignored: the chain is already overridden', { by: status.override.actor, actor: override.actor });
      return;
    }
    status.override = override;
  });
  // Tags that reached the sync targets; tags signalled later are synced before the chain completes.
  const synced = new Set<string>();
  const unsynced = () => status.tags.filter((t) => !synced.has(t));
  const ended = async (outcome: 'delivered' | 'blocked' | 'failed') => {
    // Added after the first histories were recorded: older runs replay without the record.
    if (!patched('lifecycle-outcome')) return;
    try {
      await lifecycle.recordChainOutcome({ digest: image.digest, outcome });
    } catch (err) {
      log.error('chain outcome not recorded; a re-push will not start a failed chain again', { outcome, error: failureText(err) });
    }
  };
  let image = { registry: input.registry, repository: input.repository, digest: input.digest };
  const identify = () =>
    upsertSearchAttributes([
      { key: DcRepository, value: `${image.registry}/${image.repository}` },
      ...(image.digest ? [{ key: DcDigest, value: image.digest }] : []),
      { key: DcTags, value: status.tags },
    ]);
  identify();

  const enter = (stage: ChainStage) => {
    status.stage = stage;
    upsertSearchAttributes([{ key: DcStage, value: stage }]);
  };

  const scanning = proxyActivities<ChainActivities>({
    taskQueue: scanTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: '30m',
    heartbeatTimeout: '30s',
    retry: RETRY,
  });

  try {
    enter('build');
    const attestations: Array<{ predicateType: string; predicate: unknown }> = [];
    if (input.build) {
      let built;
      try {
        built = await building.buildImage(input.build);
      } catch (err) {
        // Build hardening refused the image (it runs as root): blocked with that reason, like a gate denial.
        // Before this, such a run ended failed; histories recorded then replay that way.
        const denial = policyDenial(err);
        if (!denial || !patched('build-denial-blocks')) throw err;
        status.results.build = { allowed: false, violations: denial.details };
        enter('blocked');
        upsertSearchAttributes([{ key: DcVerdict, value: 'denied' }]);
        upsertMemo({ summary: `${input.repository} (not built): denied — ${denial.message}` });
        log.error('chain blocked at build', { error: denial.message });
        throw ApplicationFailure.create({ message: denial.message, type: FAILURE_TYPES.policyDenied, nonRetryable: true, details: denial.details });
      }
      const { provenance, ...summary } = built;
      status.results.build = summary;
      image = { registry: built.registry, repository: built.repository, digest: built.digest };
      status.tags = [...new Set([...status.tags, ...built.tags])];
      identify();
      attestations.push(provenance);
    } else {
      status.results.build = await recording.recordPushedImage(image);
    }

    enter('scan');
    const scan = await scanning.scanImage(image);
    status.results.scan = {
      counts: scan.counts,
      fixable: scan.fixable,
      packageCount: scan.packageCount,
      hygiene: scan.hygiene,
      osv: scan.osv,
      sbom: scan.sbom,
    };
    upsertSearchAttributes([
      { key: DcCriticalCount, value: scan.counts.CRITICAL },
      { key: DcHighCount, value: scan.counts.HIGH },
    ]);

    enter('gate');
    let decision: unknown;
    try {
      decision = await gate.evaluateGate({ ...image, scan });
    } catch (err) {
      const denial = policyDenial(err);
      if (!denial) throw err;
      status.results.gate = { allowed: false, violations: denial.details };
      if (!status.override) {
        enter('blocked');
        upsertSearchAttributes([{ key: DcVerdict, value: 'denied' }]);
        upsertMemo({ summary: `${image.repository}@${image.digest}: denied — ${denial.message}` });
        await distribute.notifySubscribers({ ...image, event: 'denied', payload: { tags: status.tags, violations: denial.details } });
        await ended('blocked');
        throw ApplicationFailure.create({ message: denial.message, type: FAILURE_TYPES.policyDenied, nonRetryable: true, details: denial.details });
      }
      // Break-glass: the override is in this run's history (the signal) and in the decision store's audit trail.
      await gate.recordBreakGlass({ digest: image.digest, actor: status.override.actor, reason: status.override.reason });
      decision = { allowed: true, overriddenBy: status.override, violations: denial.details };
    }
    status.results.gate = decision;

    enter('sign');
    status.results.sign = await registry.signImage({
      ...image,
      attestStoredSbom: true,
      attestations: [
        ...attestations,
        { predicateType: PREDICATE.vulnerabilityScan, predicate: { scannedAt: scan.scannedAt, osv: scan.osv, counts: scan.counts, findings: scan.findings } },
        { predicateType: PREDICATE.gateDecision, predicate: decision },
      ],
    });

    enter('sync');
    const syncTags = [...status.tags];
    status.results.sync = await copying.syncImage({ sourceRegistry: image.registry, repository: image.repository, digest: image.digest, tags: syncTags });
    for (const t of syncTags) synced.add(t);

    enter('distribute');
    // The run's start time expands `{date}` in promotion tags the same way on every retry and replay.
    const promotions = await distribute.promoteImage({ ...image, at: workflowInfo().runStartTime.toISOString() });
    const notifications = await distribute.notifySubscribers({ ...image, event: 'distributed', payload: { tags: status.tags, promotions } });
    status.results.distribute = { promotions, notifications };

    await ended('delivered');
    // Tags signalled after the sync started: copied to every target and announced before the chain completes.
    // No await between the last check and the return, so a signal cannot slip in unsynced (Temporal
    // refuses to complete a run that has a signal it has not seen, and replays the loop with it).
    if (patched('late-tags')) {
      while (unsynced().length > 0) {
        const late = unsynced();
        await copying.syncImage({ sourceRegistry: image.registry, repository: image.repository, digest: image.digest, tags: late });
        for (const t of late) synced.add(t);
        await distribute.notifySubscribers({ ...image, event: 'tagged', scope: late.join(','), payload: { tags: late } });
      }
    }

    enter('done');
    upsertSearchAttributes([{ key: DcVerdict, value: status.override ? 'overridden' : 'allowed' }]);
    // A completed run is no failure: drop a DcFailedStage it carried from its start. Only when present, so
    // the history of an ordinary run is unchanged (no command, no patch marker) and old histories replay.
    if (workflowInfo().typedSearchAttributes.get(DcFailedStage) !== undefined && patched(FAILED_STAGE_PATCH)) {
      upsertSearchAttributes([{ key: DcFailedStage, value: null }]);
    }
    upsertMemo({ summary: `${image.repository}@${image.digest}: distributed` });
    return status;
  } catch (err) {
    // Fail closed: an image the scanner refused at one of its limits (a bomb, too many files, too slow…) is
    // blocked with that limit as the reason, like a policy denial, rather than a failure to retry or re-run.
    const limit = status.stage === 'scan' ? activityCause(err) : undefined;
    if (limit?.type === FAILURE_TYPES.scanLimit && patched('scan-limit-blocks')) {
      status.results.gate = { allowed: false, violations: [{ rule: 'scan-limits', message: limit.message }] };
      enter('blocked');
      upsertSearchAttributes([{ key: DcVerdict, value: 'denied' }]);
      upsertMemo({ summary: `${image.repository}@${image.digest}: blocked — ${limit.message}` });
      await distribute.notifySubscribers({
        ...image,
        event: 'denied',
        payload: { tags: status.tags, violations: [{ rule: 'scan-limits', message: limit.message }] },
      });
      log.error('chain blocked by a scan limit', { error: limit.message });
      throw ApplicationFailure.create({ message: `scan limit: ${limit.message}`, type: FAILURE_TYPES.scanLimitExceeded, nonRetryable: true });
    }
    const stage = status.stage;
    if (stage !== 'blocked') {
      enter('failed');
      status.failedAt = stage as StageName;
      // Added after the first histories were recorded: runs without the marker replay without the memo.
      if (patched('memo-on-failure')) upsertMemo({ summary: `${image.repository}@${image.digest || '(not built)'}: failed in ${stage} — ${failureText(err)}` });
      // DcStage says `failed`; this says where, for `DcFailedStage = "sync"`. Runs recorded before it replay without it.
      if (patched(FAILED_STAGE_PATCH)) upsertSearchAttributes([{ key: DcFailedStage, value: stage }]);
      await ended('failed');
    }
    log.error('chain failed', { stage, error: failureText(err) });
    throw err;
  }
}

/** The gate's non-retryable PolicyDenied failure, if that is what `err` is. */
function policyDenial(err: unknown): { message: string; details: unknown[] } | undefined {
  const cause = activityCause(err);
  return cause?.type === FAILURE_TYPES.policyDenied ? { message: cause.message, details: [...(cause.details ?? [])] } : undefined;
}
