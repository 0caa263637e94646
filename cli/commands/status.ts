import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Command } from 'commander';
import { ChainError } from '../../src/errors/chain-error';
import { STACK_FILE } from '../../workers/stack';
import { cliConfig } from '../context';

export function register(program: Command): void {
  program
    .command('status')
    .description('show the URLs of the stack started by `npm start`')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => {
      const config = cliConfig(program.opts());
      const file = join(resolve(config.dataDir), STACK_FILE);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (cause) {
        throw new ChainError('NOT_FOUND', `no running stack: ${file} is missing (start one with \`npm start\`)`, { cause });
      }
      const status = JSON.parse(text) as { pid: number; urls: Record<string, string> };
      let alive = true;
      try {
        process.kill(status.pid, 0);
      } catch {
        alive = false;
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ ...status, running: alive }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`stack ${alive ? 'running' : 'not running (stale file)'} (pid ${status.pid})\n`);
      for (const [name, url] of Object.entries(status.urls)) process.stdout.write(`  ${name.padEnd(18)} ${url}\n`);
    });
}
