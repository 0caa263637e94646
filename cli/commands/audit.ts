/** `dchain audit`: the control API's audit log (or its JSON Lines export). */
import { type Command } from 'commander';
import { type AuditEntry } from '../../src/audit';
import { apiClient, type ApiOptions, printJson, withApiOptions } from '../api-client';

export function register(program: Command): void {
  withApiOptions(program.command('audit'))
    .description('the audit log: every state-changing API request and every refusal, newest first')
    .option('--actor <token>', 'token id or name')
    .option('--action <action>', 'an action, or a prefix ending in * (chain:*)')
    .option('--resource <resource>', 'a resource, or a prefix ending in *')
    .option('--since <time>', 'ISO-8601 time')
    .option('--limit <n>', 'entries', '100')
    .option('--export', 'every matching entry as JSON Lines')
    .action(async (opts: ApiOptions & { actor?: string; action?: string; resource?: string; since?: string; limit: string; export?: boolean }) => {
      const query = new URLSearchParams();
      for (const key of ['actor', 'action', 'resource', 'since'] as const) if (opts[key]) query.set(key, opts[key]);
      const api = apiClient(program, opts);
      if (opts.export) {
        process.stdout.write(await api.request<string>('GET', `/v1/audit/export?${query}`));
        return;
      }
      query.set('limit', opts.limit);
      const answer = await api.request<{ entries: AuditEntry[]; next?: string }>('GET', `/v1/audit?${query}`);
      if (opts.json) return printJson(answer);
      for (const e of answer.entries) {
        process.stdout.write(
          `${e.time} ${e.outcome.padEnd(15)} ${String(e.status)} ${(e.tokenName ?? e.tokenId ?? '-').padEnd(16)} ${e.action.padEnd(18)} ${e.resource}  ${e.reason}\n`,
        );
      }
    });
}
