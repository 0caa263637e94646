/**
 * `dchain tokens create|list|revoke` and `dchain access check`: API tokens and their policies,
 * managed next to Redis (an operator with access to the stack's Redis; the API answers only to tokens).
 */
import { readFileSync } from 'node:fs';
import { type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { ADMIN_POLICY, evaluateAccess } from '../../src/access';
import { parsePolicies, TokenStore } from '../../src/access';
import { ChainError } from '../../src/errors';
import { printJson } from '../api-client';
import { cliConfig, withRedis } from '../context';

function readPolicies(files: string[]): unknown[] {
  return files.flatMap((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      throw new ChainError('CONFIG_UNREADABLE', `cannot read policy file ${file}: ${(cause as Error).message}`, { cause });
    }
    const value = parseYaml(text) as unknown;
    return Array.isArray(value) ? value : [value];
  });
}

export function register(program: Command): void {
  const tokens = program.command('tokens').description('API tokens: create (shown once), list, revoke');

  tokens
    .command('create')
    .description('create a token bound to policy documents; the token is printed once and stored hashed')
    .requiredOption('--name <name>', 'who or what holds it (shown in the audit log)')
    .option('--policy <file...>', 'policy documents (JSON or YAML: {Statement: [{Effect, Action, Resource}]})')
    .option('--admin', 'allow everything (Action *, Resource *)')
    .option('--expires <time>', 'ISO-8601 expiry')
    .option('--json', 'machine-readable output')
    .action(async (opts: { name: string; policy?: string[]; admin?: boolean; expires?: string; json?: boolean }) => {
      if (!opts.admin && !opts.policy?.length) throw new ChainError('BAD_INPUT', 'give --policy <file> (or --admin)');
      const policies = parsePolicies([...(opts.admin ? [ADMIN_POLICY] : []), ...readPolicies(opts.policy ?? [])]);
      const config = cliConfig(program.opts());
      const { token, secret } = await withRedis(config, (redis) =>
        new TokenStore(redis).create({ name: opts.name, policies, ...(opts.expires ? { expiresAt: opts.expires } : {}) }),
      );
      if (opts.json) return printJson({ ...token, token: secret });
      process.stdout.write(`token ${token.id} (${token.name}) created; it is shown only now:\n${secret}\n`);
    });

  tokens
    .command('list')
    .description('every token: id, name, expiry, revocation, policies (never the secrets)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const list = await withRedis(cliConfig(program.opts()), (redis) => new TokenStore(redis).list());
      if (opts.json) return printJson(list);
      for (const t of list) {
        const state = t.revokedAt ? `revoked ${t.revokedAt}` : t.expiresAt ? `expires ${t.expiresAt}` : 'no expiry';
        process.stdout.write(`${t.id}  ${t.name.padEnd(24)} ${state.padEnd(34)} ${t.policies.reduce((n, p) => n + p.Statement.length, 0)} statement(s)\n`);
      }
    });

  tokens
    .command('revoke')
    .description('revoke a token (at once: every request re-reads it)')
    .argument('<id>', 'the token id (the hex after dct_)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { json?: boolean }) => {
      const token = await withRedis(cliConfig(program.opts()), (redis) => new TokenStore(redis).revoke(id.startsWith('dct_') ? (id.split('_')[1] ?? id) : id));
      if (opts.json) return printJson(token);
      process.stdout.write(`revoked ${token.id} (${token.name})\n`);
    });
}

/** `dchain access check` (registered by cli/commands/access.ts, its own group). */
export function registerAccess(program: Command): void {
  program
    .command('access')
    .description('explain what a token may do')
    .command('check')
    .description('whether <token> may do <action> on <resource>, and which statement decided')
    .argument('<token>', 'the token, or its id')
    .argument('<action>', 'e.g. chain:Retry')
    .argument('<resource>', 'e.g. dchain:source/team-a/app')
    .option('--json', 'machine-readable output')
    .action(async (presented: string, action: string, resource: string, opts: { json?: boolean }) => {
      const answer = await withRedis(cliConfig(program.opts()), async (redis) => {
        const store = new TokenStore(redis);
        const id = /^dct_/.test(presented) ? (presented.split('_')[1] ?? '') : presented;
        const record = await store.get(id);
        if (!record) throw new ChainError('NOT_FOUND', `no token with id ${id}`);
        if (/^dct_/.test(presented)) {
          const auth = await store.authenticate(presented);
          if (!auth.ok) return { allowed: false, reason: `the token does not authenticate: ${auth.refusal}`, token: { id, name: record.name } };
        } else if (record.revokedAt || (record.expiresAt && Date.parse(record.expiresAt) <= Date.now())) {
          return { allowed: false, reason: `the token is ${record.revokedAt ? 'revoked' : 'expired'}`, token: { id, name: record.name } };
        }
        const decision = evaluateAccess(record.policies, action, resource);
        const statement = decision.decidedBy ? record.policies[decision.decidedBy.policy]?.Statement[decision.decidedBy.statement] : undefined;
        return { ...decision, ...(statement ? { statement } : {}), token: { id, name: record.name } };
      });
      if (opts.json) printJson(answer);
      else
        process.stdout.write(
          `${answer.allowed ? 'ALLOW' : 'DENY'}: ${answer.reason}${'statement' in answer && answer.statement ? `\n  ${JSON.stringify(answer.statement)}` : ''}\n`,
        );
      if (!answer.allowed) process.exitCode = 3;
    });
}
