import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { type Command } from 'commander';
import { ChainError } from '../../src/errors/chain-error';
import { type BreakGlass, type ChainInput, type ChainStatus, breakGlassSignal, deliveryChain } from '../../workflows/delivery-chain';
import { DcRepositoryName } from '../../workflows/search-attributes';
import { cliConfig, connectTemporal } from '../context';

/**
 * Break-glass: lets a chain through its policy gate, recording who and why (the signal is in the
 * run's history; the gate stores the override in the decision store's audit trail). A running
 * chain is signalled; a chain that already ended (blocked) is started again, with its original
 * input, as a new run carrying the signal.
 */
export async function breakGlass(client: Client, workflowId: string, override: BreakGlass): Promise<{ runId: string; restarted: boolean }> {
  if (!override.actor.trim() || !override.reason.trim()) throw new ChainError('BAD_INPUT', 'break-glass needs an actor and a reason');
  const handle = client.workflow.getHandle(workflowId);
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new ChainError('NOT_FOUND', `no chain with workflow id ${workflowId}`, { cause: err });
    throw err;
  }
  if (description.status.name === 'RUNNING') {
    await handle.signal(breakGlassSignal, override);
    return { runId: description.runId, restarted: false };
  }
  const history = await handle.fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new ChainError('BAD_INPUT', `chain ${workflowId} has no recorded input to start again from`);
  const input = defaultPayloadConverter.fromPayload<ChainInput>(payload);
  const started = await client.workflow.signalWithStart(deliveryChain, {
    workflowId,
    taskQueue: description.taskQueue,
    args: [input],
    signal: breakGlassSignal,
    signalArgs: [override],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: [{ key: DcRepositoryName, value: input.repository }],
  });
  return { runId: started.signaledRunId, restarted: true };
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
        const status = await session.client.workflow.getHandle(workflowId).query<ChainStatus>('status');
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      } finally {
        await session.close();
      }
    });

  chain
    .command('break-glass')
    .description('let a chain through its policy gate; actor and reason are recorded')
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
