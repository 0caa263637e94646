import Table from 'cli-table3';
import { type Command } from 'commander';
import { type Config } from '../../src/config';
import { ChainError } from '../../src/errors';
import { type DeliveryEntry, DeliveryLog, IngestQueue } from '../../src/ingest';
import { cliConfig, positiveInt, withRedis } from '../context';

/** `dchain webhooks log|dead-letters|replay`: what the webhook API received and what could not start a chain. */
export function register(program: Command): void {
  const webhooks = program.command('webhooks').description('webhook deliveries, the ingestion queue and its dead letters');

  webhooks
    .command('log')
    .description(
      'the last webhook deliveries, newest first: time, source, status, outcome, and why (events queued, or what each dropped event was). ' +
        "Deliveries that only carried events starting no chain (pulls, blobs, the chain's own pushes) are summed up at the end unless --all or --outcome dropped",
    )
    .option('-n, --limit <n>', 'how many deliveries', '20')
    .option(
      '--outcome <outcome>',
      'only these outcomes (accepted, duplicate, dropped, unauthorized, bad-request, unavailable, …); repeatable or comma-separated',
      collect,
      [],
    )
    .option('--source <name>', 'only deliveries to this webhook source')
    .option('--all', 'list dropped deliveries too')
    .option('--json', 'machine-readable output')
    .action(async (opts: { limit: string; outcome: string[]; source?: string; all?: boolean; json?: boolean }) => {
      const limit = positiveInt(opts.limit, '--limit');
      const config = cliConfig(program.opts());
      const outcomes = new Set(
        opts.outcome
          .flatMap((o) => o.split(','))
          .map((o) => o.trim())
          .filter(Boolean),
      );
      const showDropped = opts.all === true || outcomes.has('dropped');
      await withRedis(config, async (redis) => {
        // The whole log is read and filtered here: one push brings dozens of dropped deliveries
        // (the chain's own pulls and artifact pushes), which must not push the one that started it out of view.
        const all = await new DeliveryLog(redis, config.ingest.deliveryLogSize).list(config.ingest.deliveryLogSize);
        const matching = all.filter((d) => (!opts.source || d.source === opts.source) && (!outcomes.size || outcomes.has(d.outcome)));
        const shown = matching.filter((d) => showDropped || d.outcome !== 'dropped').slice(0, limit);
        const hidden = showDropped ? [] : matching.filter((d) => d.outcome === 'dropped');
        if (opts.json) return print(JSON.stringify({ deliveries: shown.map((d) => ({ ...d, reason: reasonOf(d) })), hiddenDropped: hidden.length }, null, 2));
        const table = new Table({ head: ['time', 'source', 'status', 'outcome', 'reason', 'workflow ids'] });
        for (const d of shown) table.push([d.time, d.source, d.status, d.outcome, reasonOf(d), d.workflowIds.join('\n')]);
        print(shown.length ? table.toString() : 'no deliveries recorded' + (opts.source || outcomes.size ? ' that match' : ''));
        if (hidden.length) print(`${hidden.length} dropped deliver${hidden.length === 1 ? 'y' : 'ies'} not listed (${summarize(hidden)}); --all lists them`);
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

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The reason of an entry; entries written before reasons were recorded fall back to their error or outcome. */
function reasonOf(d: DeliveryEntry): string {
  return d.reason ?? d.error ?? (d.outcome === 'dropped' ? 'no event started a chain (reason not recorded)' : '');
}

/** "30 pull, 15 artifact": the dropped events of these deliveries by kind. */
function summarize(entries: DeliveryEntry[]): string {
  const counts = new Map<string, number>();
  for (const d of entries) {
    for (const part of (d.reason ?? 'unrecorded').split(', ')) {
      const [n, ...kind] = part.split(' ');
      const name = kind.length ? kind.join(' ') : part;
      counts.set(name, (counts.get(name) ?? 0) + (kind.length ? Number(n) || 1 : 1));
    }
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => `${n} ${kind}`)
    .join(', ');
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
