import Table from 'cli-table3';
import { type Command } from 'commander';
import { type Config } from '../../src/config/schema';
import { ChainError } from '../../src/errors/chain-error';
import { DeliveryLog, IngestQueue } from '../../src/ingest';
import { cliConfig, positiveInt, withRedis } from '../context';

/** `dchain webhooks log|dead-letters|replay`: what the webhook API received and what could not start a chain. */
export function register(program: Command): void {
  const webhooks = program.command('webhooks').description('webhook deliveries, the ingestion queue and its dead letters');

  webhooks
    .command('log')
    .description('the last webhook deliveries, newest first: source, time, HTTP status, outcome, workflow ids')
    .option('-n, --limit <n>', 'how many deliveries', '20')
    .option('--json', 'machine-readable output')
    .action(async (opts: { limit: string; json?: boolean }) => {
      const limit = positiveInt(opts.limit, '--limit');
      const config = cliConfig(program.opts());
      await withRedis(config, async (redis) => {
        const deliveries = await new DeliveryLog(redis, config.ingest.deliveryLogSize).list(limit);
        if (opts.json) return print(JSON.stringify({ deliveries }, null, 2));
        const table = new Table({ head: ['time', 'source', 'status', 'outcome', 'events', 'workflow ids / error'] });
        for (const d of deliveries) table.push([d.time, d.source, d.status, d.outcome, d.events, d.error ?? d.workflowIds.join('\n')]);
        print(deliveries.length ? table.toString() : 'no deliveries recorded');
      });
    });

  webhooks
    .command('dead-letters')
    .description('events that could not start their chain after every retry, with the reason')
    .option('-n, --limit <n>', 'how many', '100')
    .option('--json', 'machine-readable output')
    .action(async (opts: { limit: string; json?: boolean }) => {
      const limit = positiveInt(opts.limit, '--limit');
      const config = cliConfig(program.opts());
      await withQueue(config, async (queue) => {
        const [dead, depth] = await Promise.all([queue.listDeadLetters(limit), queue.depth()]);
        if (opts.json) return print(JSON.stringify({ depth, deadLetters: dead }, null, 2));
        print(`queue: ${depth.waiting} waiting, ${depth.active} active, ${depth.delayed} retrying, ${depth.dead} dead`);
        if (!dead.length) return print('no dead letters');
        const table = new Table({ head: ['id', 'failed at', 'attempts', 'image', 'reason'] });
        for (const d of dead) table.push([d.id, d.failedAt, d.attempts, imageOf(d.job), d.reason]);
        print(table.toString());
      });
    });

  webhooks
    .command('replay [ids...]')
    .description('queue dead letters again (after fixing their cause)')
    .option('--all', 'replay every dead letter')
    .action(async (ids: string[], opts: { all?: boolean }) => {
      if (!opts.all && ids.length === 0) throw new ChainError('BAD_INPUT', 'name dead-letter ids to replay, or pass --all');
      const config = cliConfig(program.opts());
      await withQueue(config, async (queue) => {
        const targets = opts.all ? (await queue.listDeadLetters(10_000)).map((d) => d.id) : ids;
        for (const id of targets) print(`${id} → queued as ${await queue.replay(id)}`);
        if (!targets.length) print('no dead letters');
      });
    });
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function imageOf(job: unknown): string {
  const input = (job as { input?: { registry?: string; repository?: string; digest?: string } } | undefined)?.input;
  return input ? `${input.registry ?? '?'}/${input.repository ?? '?'}@${input.digest ?? '?'}` : '(invalid job)';
}


async function withQueue<T>(config: Config, fn: (queue: IngestQueue) => Promise<T>): Promise<T> {
  return withRedis(config, async (redis) => {
    const queue = IngestQueue.fromConfig(redis, config.ingest);
    try {
      return await fn(queue);
    } finally {
      await queue.close();
    }
  });
}
