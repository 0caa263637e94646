#!/usr/bin/env node
/**
 * `dchain`: the command line. Each command group lives in cli/commands/<group>.ts and exports
 * `register(program)`; this file only wires them together and turns errors into exit codes.
 */
import { Command } from 'commander';
import { ChainError } from '../src/errors/chain-error';
import { register as registerBuild } from './commands/build';
import { register as registerChain } from './commands/chain';
import { register as registerDemo } from './commands/demo';
import { register as registerKeys } from './commands/keys';
import { register as registerNotifications } from './commands/notifications';
import { register as registerPolicy } from './commands/policy';
import { register as registerRescan } from './commands/rescan';
import { register as registerScan } from './commands/scan';
import { register as registerStatus } from './commands/status';
import { register as registerVerify } from './commands/verify';
import { register as registerVex } from './commands/vex';
import { register as registerWebhooks } from './commands/webhooks';

export function buildProgram(): Command {
  const program = new Command('dchain')
    .description('delivery-chain: build, scan, gate, sign, sync and distribute container images')
    .option('-c, --config <file>', 'configuration file (YAML or JSON); default: $DCHAIN_CONFIG or embedded defaults')
    .showHelpAfterError();
  registerStatus(program);
  registerWebhooks(program);
  registerKeys(program);
  registerVerify(program);
  registerPolicy(program);
  registerScan(program);
  registerBuild(program);
  registerChain(program);
  registerNotifications(program);
  registerRescan(program);
  registerDemo(program);
  registerVex(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    const message = err instanceof ChainError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
    process.stderr.write(`dchain: ${message}\n`);
    process.exit(err instanceof ChainError && err.code === 'POLICY_DENIED' ? 3 : 1);
  }
}

if (require.main === module) void main();
