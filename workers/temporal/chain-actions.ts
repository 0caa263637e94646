/**
 * What `dchain chain` / `dchain runs` and the control API do to a chain: break-glass and retry,
 * with the lifecycle rules' refusals (each names the reason and what to do instead).
 */
import { type Client } from '@temporalio/client';
import { type Redis } from 'ioredis';
import { type Config } from '../../src/config';
import { ChainError } from '../../src/errors';
import { ChainLifecycleStore, durationMs, retrySettings } from '../../src/ingest';
import { type BreakGlass, type ChainStatus, QUERIES, SIGNALS } from '../../src/chain';
import { lastRun, recordedInput, startNewRun } from './chain-control';
import { resetToFailedStage, type ResetPoint } from './chain-reset';

export interface RetryResult {
  runId: string;
  /** `reset`: the failed run reset to its failed stage; `new-run`: started again from its input. */
  mode: 'reset' | 'new-run';
  point?: ResetPoint;
}

/** Stages after the gate: a running chain there has been allowed, and break-glass would override nothing. */
const PAST_GATE = new Set(['sign', 'sync', 'distribute', 'done']);

/**
 * Break-glass: lets a *blocked* chain through its policy gate, recording who and why (the signal is
 * in the run's history; the gate stores the one override in the decision store's audit trail). A
 * blocked chain is started again from its recorded input with the signal; a running chain that has
 * not passed its gate is signalled (the override applies if the gate denies). Refused with the
 * reason for a chain that was delivered, failed (not blocked: `dchain chain retry`), is past its
 * gate, or already carries an override.
 */
export async function breakGlass(client: Client, workflowId: string, override: BreakGlass): Promise<{ runId: string; restarted: boolean }> {
  if (!override.actor.trim() || !override.reason.trim()) throw new ChainError('BAD_INPUT', 'break-glass needs an actor and a reason');
  const last = await lastRun(client, workflowId);
  if (!last) throw new ChainError('NOT_FOUND', `no chain with workflow id ${workflowId}`);
  switch (last.state) {
    case 'running': {
      const status = await client.workflow.getHandle(workflowId).query<ChainStatus>(QUERIES.status);
      if (PAST_GATE.has(status.stage))
        throw new ChainError('BAD_INPUT', `chain ${workflowId} is past its gate (stage ${status.stage}): its policy allowed it, there is nothing to override`);
      if (status.override)
        throw new ChainError('BAD_INPUT', `chain ${workflowId} is already overridden by ${status.override.actor} (${status.override.reason})`);
      await client.workflow.getHandle(workflowId).signal<[BreakGlass]>(SIGNALS.breakGlass, override);
      return { runId: last.runId, restarted: false };
    }
    case 'blocked': {
      const input = await recordedInput(client, workflowId);
      const runId = await startNewRun(client, workflowId, last.taskQueue, input, { name: SIGNALS.breakGlass, args: [override] });
      return { runId, restarted: true };
    }
    case 'delivered':
      throw new ChainError('BAD_INPUT', `chain ${workflowId} completed and delivered the image: its policy allowed it, there is nothing to override`);
    case 'failed':
      throw new ChainError(
        'BAD_INPUT',
        `chain ${workflowId} failed in ${last.stage}, it was not blocked by policy: run it again with \`dchain chain retry ${workflowId}\``,
      );
  }
}

/**
 * `dchain chain retry` / `POST /v1/chains/{id}/retry`: runs a chain whose last run *failed* (not
 * blocked) again at once (an operator's retry skips the backoff) — reset to its failed stage, or
 * a new run from its recorded input when the failed run has no stage activity to reset to; refused after
 * `ingest.retryFailed.maxRuns` failures in a row unless `force`.
 */
export async function retryChain(
  client: Client,
  redis: Redis,
  config: Config,
  workflowId: string,
  options: { force?: boolean; reason?: string } = {},
): Promise<RetryResult> {
  const last = await lastRun(client, workflowId);
  if (!last) throw new ChainError('NOT_FOUND', `no chain with workflow id ${workflowId}`);
  if (last.state === 'running') throw new ChainError('BAD_INPUT', `chain ${workflowId} is running (stage ${last.stage}): one running chain per digest`);
  if (last.state === 'delivered') throw new ChainError('BAD_INPUT', `chain ${workflowId} delivered its image; a new tag is delivered by pushing it`);
  if (last.state === 'blocked') {
    throw new ChainError(
      'BAD_INPUT',
      `chain ${workflowId} is blocked by policy: it runs again when a rescan finds it allowed (policy or vulnerability data changed), or with \`dchain chain break-glass\``,
    );
  }
  const record = await new ChainLifecycleStore(redis, durationMs(config.ingest.dedupTtl)).get(workflowId);
  const { maxRuns } = retrySettings(config.ingest);
  if (!options.force && record && record.outcome === 'failed' && record.failures >= maxRuns) {
    throw new ChainError(
      'BAD_INPUT',
      `chain ${workflowId} failed ${record.failures} times in a row (ingest.retryFailed.maxRuns = ${maxRuns}); fix the cause, then retry with --force`,
    );
  }
  // The Reset the Temporal UI offers, at the failed stage's first activity: what already succeeded
  // (signatures, attestations, copies) is kept in history, not done again.
  try {
    const reset = await resetToFailedStage(client, workflowId, last.runId, options.reason ?? 'dchain retry of a failed chain');
    return { runId: reset.runId, mode: 'reset', point: reset.point };
  } catch (err) {
    // A run that never scheduled an activity of its failed stage has nothing to keep: a new run from its input.
    if (!ChainError.is(err, 'BAD_INPUT')) throw err;
  }
  const input = await recordedInput(client, workflowId);
  const runId = await startNewRun(client, workflowId, last.taskQueue, input, { name: SIGNALS.addTags, args: [{ tags: input.tags }] });
  return { runId, mode: 'new-run' };
}
