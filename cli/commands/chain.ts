import { type Client } from '@temporalio/client';
import { type Command } from 'commander';
import { type Redis } from 'ioredis';
import { type Config } from '../../src/config';
import { ChainError } from '../../src/errors';
import { ChainLifecycleStore, durationMs, retrySettings } from '../../src/ingest';
import { type BreakGlass, type ChainStatus, QUERIES, SIGNALS } from '../../src/chain';
import { lastRun, recordedInput, startNewRun } from '../../workers/temporal/chain-control';
import { cliConfig, connectTemporal, withRedis } from '../context';

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
      if (PAST_GATE.has(status.stage)) throw new ChainError('BAD_INPUT', `chain ${workflowId} is past its gate (stage ${status.stage}): its policy allowed it, there is nothing to override`);
      if (status.override) throw new ChainError('BAD_INPUT', `chain ${workflowId} is already overridden by ${status.override.actor} (${status.override.reason})`);
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
      throw new ChainError('BAD_INPUT', `chain ${workflowId} failed in ${last.stage}, it was not blocked by policy: run it again with \`dchain chain retry ${workflowId}\``);
  }
}

/**
 * `dchain chain retry`: a new run of a chain whose last run *failed* (not blocked), from its
 * recorded input, at once (an operator's retry skips the backoff); refused after
 * `ingest.retryFailed.maxRuns` failures in a row unless `force`.
 */
export async function retryChain(client: Client, redis: Redis, config: Config, workflowId: string, options: { force?: boolean } = {}): Promise<{ runId: string }> {
  const last = await lastRun(client, workflowId);
  if (!last) throw new ChainError('NOT_FOUND', `no chain with workflow id ${workflowId}`);
  if (last.state === 'running') throw new ChainError('BAD_INPUT', `chain ${workflowId} is running (stage ${last.stage}): one running chain per digest`);
  if (last.state === 'delivered') throw new ChainError('BAD_INPUT', `chain ${workflowId} delivered its image; a new tag is delivered by pushing it`);
  if (last.state === 'blocked') {
    throw new ChainError('BAD_INPUT', `chain ${workflowId} is blocked by policy: it runs again when a rescan finds it allowed (policy or vulnerability data changed), or with \`dchain chain break-glass\``);
  }
  const record = await new ChainLifecycleStore(redis, durationMs(config.ingest.dedupTtl)).get(workflowId);
  const { maxRuns } = retrySettings(config.ingest);
  if (!options.force && record && record.outcome === 'failed' && record.failures >= maxRuns) {
    throw new ChainError('BAD_INPUT', `chain ${workflowId} failed ${record.failures} times in a row (ingest.retryFailed.maxRuns = ${maxRuns}); fix the cause, then retry with --force`);
  }
  const input = await recordedInput(client, workflowId);
  const runId = await startNewRun(client, workflowId, last.taskQueue, input, { name: SIGNALS.addTags, args: [{ tags: input.tags }] });
  return { runId };
}

export function register(program: Command): void {
  const chain = program.command('chain').description('inspect and steer delivery chains (one Temporal workflow per image digest)');

  chain
    .command('status')
    .description('the current stage and every stage result of a chain')
    .argument('<workflow-id>', 'e.g. chain:source/team/app@sha256:…')
    .action(async (workflowId: string) => {
      const session = await connectTemporal(cliConfig(program.opts()));
      try {
        const status = await session.client.workflow.getHandle(workflowId).query<ChainStatus>(QUERIES.status);
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      } finally {
        await session.close();
      }
    });

  chain
    .command('retry')
    .description('run a failed chain again (not a blocked one: see break-glass)')
    .argument('<workflow-id>', 'e.g. chain:source/team/app@sha256:…')
    .option('--force', 'run even after ingest.retryFailed.maxRuns failures in a row')
    .action(async (workflowId: string, opts: { force?: boolean }) => {
      const config = cliConfig(program.opts());
      const session = await connectTemporal(config);
      try {
        const { runId } = await withRedis(config, (redis) => retryChain(session.client, redis, config, workflowId, { force: opts.force === true }));
        process.stdout.write(`started again: ${workflowId} (run ${runId})\n`);
      } finally {
        await session.close();
      }
    });

  chain
    .command('break-glass')
    .description('let a blocked chain through its policy gate; actor and reason are recorded')
    .argument('<workflow-id>', 'e.g. chain:source/team/app@sha256:…')
    .requiredOption('--actor <who>', 'who takes responsibility')
    .requiredOption('--reason <why>', 'why (ticket, incident)')
    .action(async (workflowId: string, opts: { actor: string; reason: string }) => {
      const session = await connectTemporal(cliConfig(program.opts()));
      try {
        const { runId, restarted } = await breakGlass(session.client, workflowId, { actor: opts.actor, reason: opts.reason });
        process.stdout.write(`${restarted ? 'started again with' : 'signalled'} break-glass: ${workflowId} (run ${runId})\n`);
      } finally {
        await session.close();
      }
    });
}
