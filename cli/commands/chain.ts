import { type Command } from 'commander';
import { breakGlass, retryChain } from '../../workers/temporal/chain-actions';
import { ChainError } from '../../src/errors';
import { apiClient, type ApiOptions, printJson, withApiOptions } from '../api-client';

// Kept here too: scripts and tests import them from the command module.
export { breakGlass, retryChain };

/**
 * `dchain chain status|retry|break-glass`, through the control API (`--api`, `--token`): the API
 * checks the token's policies and audits every change; a break-glass override records the token's
 * identity as its actor. `dchain runs` has the listing and the same retry.
 */
export function register(program: Command): void {
  const chain = program.command('chain').description('inspect and steer delivery chains (one Temporal workflow per image digest), through the control API');

  withApiOptions(chain.command('status'))
    .description('the current stage, every stage result and the failure of a chain')
    .argument('<workflow-id>', 'e.g. chain:source/team/app@sha256:…')
    .action(async (workflowId: string, opts: ApiOptions) => {
      printJson(await apiClient(program, opts).request('GET', `/v1/chains/${encodeURIComponent(workflowId)}`));
    });

  withApiOptions(chain.command('retry'))
    .description('run a failed chain again, reset to its failed stage (not a blocked one: see break-glass)')
    .argument('<workflow-id>', 'e.g. chain:source/team/app@sha256:…')
    .option('--force', 'run even after ingest.retryFailed.maxRuns failures in a row')
    .action(async (workflowId: string, opts: ApiOptions & { force?: boolean }) => {
      const r = await apiClient(program, opts).request<{ runId: string; mode: string; stage?: string }>(
        'POST',
        `/v1/chains/${encodeURIComponent(workflowId)}/retry`,
        { force: opts.force === true },
      );
      if (opts.json) return printJson(r);
      process.stdout.write(`${r.mode === 'reset' ? `reset to ${r.stage}` : 'started again'}: ${workflowId} (run ${r.runId})\n`);
    });

  withApiOptions(chain.command('break-glass'))
    .description("let a blocked chain through its policy gate; the token's identity and the reason are recorded")
    .argument('<workflow-id>', 'e.g. chain:source/team/app@sha256:…')
    .requiredOption('--reason <why>', 'why (ticket, incident)')
    .option('--actor <who>', 'no longer accepted: the actor is the API token')
    .action(async (workflowId: string, opts: ApiOptions & { reason: string; actor?: string }) => {
      if (opts.actor !== undefined)
        throw new ChainError(
          'BAD_INPUT',
          'break-glass records the API token as its actor; --actor is no longer accepted (use a token of your own: dchain tokens create)',
        );
      const r = await apiClient(program, opts).request<{ runId: string; restarted: boolean; actor: string }>(
        'POST',
        `/v1/chains/${encodeURIComponent(workflowId)}/break-glass`,
        { reason: opts.reason },
      );
      if (opts.json) return printJson(r);
      process.stdout.write(`${r.restarted ? 'started again with' : 'signalled'} break-glass by ${r.actor}: ${workflowId} (run ${r.runId})\n`);
    });
}
