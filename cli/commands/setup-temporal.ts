import { type Command } from 'commander';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/chain';
import { ensureNamespace, ensureSearchAttributes } from '../../workers/temporal/namespace';
import { cliConfig, connectTemporal, positiveInt } from '../context';

/**
 * `dchain setup-temporal`: what an existing Temporal cluster needs before the chain runs on it — the
 * configured namespace and the chain's search attributes in it (the dev server `npm start` runs gets
 * both from its command line). Idempotent: run it again after an upgrade adds an attribute.
 */
export function register(program: Command): void {
  program
    .command('setup-temporal')
    .description("create the configured namespace and register the chain's search attributes in it (idempotent)")
    .option('--retention-days <n>', 'retention of closed runs when the namespace is created', '3')
    .option('--json', 'machine-readable output')
    .action(async (opts: { retentionDays: string; json?: boolean }) => {
      const config = cliConfig(program.opts());
      const retentionDays = positiveInt(opts.retentionDays, '--retention-days');
      const session = await connectTemporal(config);
      try {
        const { namespace } = config.temporal;
        await ensureNamespace(session.client.connection, namespace, retentionDays);
        const added = await ensureSearchAttributes(session.client.connection, namespace);
        const all = Object.keys(SEARCH_ATTRIBUTE_TYPES);
        if (opts.json) process.stdout.write(`${JSON.stringify({ namespace, added, present: all.filter((a) => !added.includes(a)) })}\n`);
        else
          process.stdout.write(
            `namespace ${namespace}: ${added.length ? `registered ${added.join(', ')}` : `all ${all.length} search attributes already registered`}\n`,
          );
      } finally {
        await session.close();
      }
    });
}
