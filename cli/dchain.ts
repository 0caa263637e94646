#!/usr/bin/env node
/**
 * `dchain`: the command line. Each command group lives in cli/commands/<group>.ts and exports
 * `register(program)`; this file only wires them together and turns errors into exit codes.
 */
import { Command } from 'commander';
import { ChainError } from '../src/errors/chain-error';

type CommandModule = { register: (program: Command) => void };

/**
 * Command groups, loaded on demand: a command pays the start-up of its own dependencies only (`dchain scan`
 * does not load the Temporal client, BullMQ or Fastify). Help and unknown commands load them all.
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  status: () => import('./commands/status.js'),
  webhooks: () => import('./commands/webhooks.js'),
  keygen: () => import('./commands/keys.js'),
  verify: () => import('./commands/verify.js'),
  policy: () => import('./commands/policy.js'),
  scan: () => import('./commands/scan.js'),
  build: () => import('./commands/build.js'),
  chain: () => import('./commands/chain.js'),
  notifications: () => import('./commands/notifications.js'),
  rescan: () => import('./commands/rescan.js'),
  demo: () => import('./commands/demo.js'),
  vex: () => import('./commands/vex.js'),
};

/** The command an argument vector runs: the first word that is not a global option or its value. */
function commandOf(argv: string[]): string | undefined {
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-c' || a === '--config') i++;
    else if (!a.startsWith('-')) return a;
    else if (a === '-h' || a === '--help') return undefined;
  }
  return undefined;
}

export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command('dchain')
    .description('delivery-chain: build, scan, gate, sign, sync and distribute container images')
    .option('-c, --config <file>', 'configuration file (YAML or JSON); default: $DCHAIN_CONFIG or embedded defaults')
    .showHelpAfterError();
  const name = commandOf(argv);
  const wanted = name !== undefined && COMMANDS[name] ? [COMMANDS[name]] : Object.values(COMMANDS);
  for (const load of wanted) (await load()).register(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await (await buildProgram(argv)).parseAsync(argv);
  } catch (err) {
    const message = err instanceof ChainError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
    process.stderr.write(`dchain: ${message}\n`);
    process.exit(err instanceof ChainError && err.code === 'POLICY_DENIED' ? 3 : 1);
  }
}

if (require.main === module) void main();
