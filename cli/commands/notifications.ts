import Table from 'cli-table3';
import { type Command } from 'commander';
import { NotificationLog } from '../../src/distribute';
import { cliConfig, positiveInt, withRedis } from '../context';

/** `dchain notifications log`: every outgoing subscriber notification with its status and attempts. */
export function register(program: Command): void {
  program
    .command('notifications')
    .description('outgoing subscriber notifications')
    .command('log')
    .description('the last notifications, newest first: subscriber, event, digest, status, attempts')
    .option('-n, --limit <n>', 'how many', '20')
    .option('--json', 'machine-readable output')
    .action(async (opts: { limit: string; json?: boolean }) => {
      const limit = positiveInt(opts.limit, '--limit');
      await withRedis(cliConfig(program.opts()), async (redis) => {
        const deliveries = await new NotificationLog(redis).list(limit);
        if (opts.json) return void process.stdout.write(`${JSON.stringify({ deliveries }, null, 2)}\n`);
        const table = new Table({ head: ['time', 'subscriber', 'event', 'digest', 'status', 'http', 'attempt'], style: { head: [], border: [] } });
        for (const d of deliveries) table.push([d.at, d.subscriber, d.event, d.digest.slice(0, 19), d.status, d.httpStatus ?? d.error ?? '', d.attempts]);
        process.stdout.write(`${deliveries.length ? table.toString() : 'no notifications recorded'}\n`);
      });
    });
}
