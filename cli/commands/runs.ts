/** `dchain runs list|show|retry`: delivery chains through the control API. */
import { type Command } from 'commander';
import { apiClient, type ApiOptions, printJson, withApiOptions } from '../api-client';

interface ChainSummary {
  id: string;
  state: string;
  stage: string;
  verdict?: string;
  failedStage?: string;
  startTime: string;
  link: string;
}

export function register(program: Command): void {
  const runs = program.command('runs').description('delivery chains through the control API: list, show, retry');

  withApiOptions(runs.command('list'))
    .description('chains, one per digest from its latest run (a digest replayed successfully is no longer failed)')
    .option('--failed', 'only chains whose latest run failed (not blocked)')
    .option('--repository <name>', '<registry>/<repository> or <repository>')
    .option('--stage <stage>', 'DcStage of the latest run')
    .option('--verdict <verdict>', 'allowed, denied or overridden')
    .option('--since <time>', 'ISO-8601 time')
    .option('--limit <n>', 'page size', '100')
    .action(async (opts: ApiOptions & { failed?: boolean; repository?: string; stage?: string; verdict?: string; since?: string; limit: string }) => {
      const query = new URLSearchParams({ limit: opts.limit });
      if (opts.failed) query.set('state', 'failed');
      for (const key of ['repository', 'stage', 'verdict', 'since'] as const) if (opts[key]) query.set(key, opts[key]);
      const answer = await apiClient(program, opts).request<{ chains: ChainSummary[]; next?: string }>('GET', `/v1/chains?${query}`);
      if (opts.json) return printJson(answer);
      for (const c of answer.chains) {
        process.stdout.write(`${c.state.padEnd(10)} ${(c.failedStage ? `${c.stage}:${c.failedStage}` : c.stage).padEnd(14)} ${c.startTime}  ${c.id}\n`);
      }
      if (answer.next) process.stdout.write(`more: --limit or the API's cursor ${answer.next}\n`);
    });

  withApiOptions(runs.command('show'))
    .description('one chain: stages, results, failure, Temporal UI link')
    .argument('<chain-id>', 'e.g. chain:source/team/app@sha256:…')
    .action(async (id: string, opts: ApiOptions) => {
      const chain = await apiClient(program, opts).request<ChainSummary & { failure?: { message: string; stage?: string }; runs: number }>(
        'GET',
        `/v1/chains/${encodeURIComponent(id)}`,
      );
      if (opts.json) return printJson(chain);
      process.stdout.write(
        `${chain.id}\n  state    ${chain.state} (stage ${chain.stage}${chain.verdict ? `, verdict ${chain.verdict}` : ''}), ${chain.runs} run(s)\n`,
      );
      if (chain.failure) process.stdout.write(`  failure  ${chain.failure.stage ? `in ${chain.failure.stage}: ` : ''}${chain.failure.message}\n`);
      process.stdout.write(`  UI       ${chain.link}\n`);
    });

  withApiOptions(runs.command('retry'))
    .description('retry a failed chain: reset it to the workflow task before its failed stage’s first activity')
    .argument('<chain-id>', 'e.g. chain:source/team/app@sha256:…')
    .option('--force', 'retry past ingest.retryFailed.maxRuns failures in a row')
    .action(async (id: string, opts: ApiOptions & { force?: boolean }) => {
      const r = await apiClient(program, opts).request<{ runId: string; mode: string; stage?: string; resetEventId?: number }>(
        'POST',
        `/v1/chains/${encodeURIComponent(id)}/retry`,
        { force: opts.force === true },
      );
      if (opts.json) return printJson(r);
      process.stdout.write(
        r.mode === 'reset' ? `reset to event ${r.resetEventId} (before ${r.stage}): ${id} (run ${r.runId})\n` : `started again: ${id} (run ${r.runId})\n`,
      );
    });
}
