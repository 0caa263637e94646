import { join, resolve } from 'node:path';
import { type Command } from 'commander';
import { ChainError } from '../../src/errors';
import { readStackFile, STACK_FILE, stackRunning } from '../../workers/process/stack-file';
import { cliConfig } from '../context';

interface Health {
  status: string;
  components: Record<string, { status: string; detail?: string }>;
}

/** The API's /healthz report; an unreachable API is itself the answer. */
async function fetchHealth(url: string): Promise<Health> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    return (await res.json()) as Health;
  } catch (err) {
    return { status: 'unhealthy', components: { api: { status: 'down', detail: `${url}: ${(err as Error).message}` } } };
  }
}

export function register(program: Command): void {
  program
    .command('status')
    .description('the stack `npm start` runs: URLs, and the health of every component (exit 1 when one is down)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const config = cliConfig(program.opts());
      const status = readStackFile(config.dataDir);
      if (!status) {
        throw new ChainError('NOT_FOUND', `no running stack: ${join(resolve(config.dataDir), STACK_FILE)} is missing (start one with \`npm start\`)`);
      }
      const running = stackRunning(status);
      const healthUrl = status.urls.health ?? `${status.urls.api}/healthz`;
      const health: Health = running ? await fetchHealth(healthUrl) : { status: 'unhealthy', components: {} };
      if (running && health.status !== 'ok') process.exitCode = 1;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ ...status, running, health }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`stack ${running ? 'running' : 'not running (stale file)'} (pid ${status.pid})${running ? `, ${health.status}` : ''}\n`);
      for (const [name, url] of Object.entries(status.urls)) process.stdout.write(`  ${name.padEnd(24)} ${url}\n`);
      if (!running) return;
      process.stdout.write('\ncomponents:\n');
      for (const [name, c] of Object.entries(health.components)) process.stdout.write(`  ${name.padEnd(40)} ${c.status.padEnd(6)} ${c.detail ?? ''}\n`);
    });
}
