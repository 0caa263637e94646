#!/usr/bin/env node
/**
 * `dchain`: the command line. Each command group lives in cli/commands/<group>.ts and exports
 * `register(program)`; this file only wires them together and turns errors into exit codes.
 * Groups are loaded lazily: a command loads its own module only (the scanner, Temporal client and
 * signing code stay unloaded for `dchain status`), and `--help` loads none.
 */
import type * as Commander from 'commander';
import { type Command as CommandType } from 'commander';
import { join } from 'node:path';
import { ChainError } from '../src/errors';
import { requireWithCodeCache } from './code-cache';

interface Group {
  name: string;
  /** The one-line summary `dchain --help` lists (each module has the full description). */
  summary: string;
  load: () => { register(program: CommandType): void };
}

type GroupModule = ReturnType<Group['load']>;

/** Group modules already loaded before the command line is read: the startup snapshot's scan group (cli/snapshot.ts). */
const preloaded = new Map<string, GroupModule>();

export function preloadGroup(file: string, mod: GroupModule): void {
  preloaded.set(file, mod);
}

/** A group's module: its bundle through V8's code cache when `npm run build` stored one (cli/code-cache.ts), else required. */
function group(file: string, load: () => GroupModule): GroupModule {
  return preloaded.get(file) ?? (requireWithCodeCache(join(__dirname, 'commands', `${file}.js`)) as GroupModule | undefined) ?? load();
}

/* eslint-disable @typescript-eslint/no-require-imports -- lazy loading is the point: require runs only for the command used */
const GROUPS: Group[] = [
  {
    name: 'status',
    summary: 'the stack `npm start` runs: URLs and the health of every component',
    load: () => group('status', () => require('./commands/status')),
  },
  {
    name: 'webhooks',
    summary: 'webhook deliveries (with the reason for each outcome), the ingestion queue and its dead letters',
    load: () => group('webhooks', () => require('./commands/webhooks')),
  },
  { name: 'keygen', summary: 'generate a cosign-compatible ECDSA P-256 signing key pair', load: () => group('keys', () => require('./commands/keys')) },
  {
    name: 'verify',
    summary: "verify an image's cosign signatures and attestations (default keys: the running stack's)",
    load: () => group('verify', () => require('./commands/verify')),
  },
  {
    name: 'policy',
    summary: 'image policy: lint, JSON Schema, test an image, run the admission webhook',
    load: () => group('policy', () => require('./commands/policy')),
  },
  { name: 'scan', summary: 'scan an image in a registry: packages, OSV vulnerabilities, hygiene', load: () => group('scan', () => require('./commands/scan')) },
  {
    name: 'build',
    summary: 'build a Git ref with buildah and run it through the delivery chain',
    load: () => group('build', () => require('./commands/build')),
  },
  {
    name: 'runs',
    summary: 'delivery chains through the control API: list (--failed), show, retry (reset to the failed stage)',
    load: () => group('runs', () => require('./commands/runs')),
  },
  {
    name: 'scans',
    summary: "on-demand scans through the control API with the chain's engine and policy",
    load: () => group('scans', () => require('./commands/scans')),
  },
  {
    name: 'audit',
    summary: 'the audit log of the control API (every change and every refusal)',
    load: () => group('audit', () => require('./commands/audit')),
  },
  {
    name: 'tokens',
    summary: 'API tokens bound to access policies: create (shown once), list, revoke',
    load: () => group('tokens', () => require('./commands/tokens')),
  },
  { name: 'access', summary: 'check what a token may do and which statement decides', load: () => group('access', () => require('./commands/access')) },
  { name: 'chain', summary: 'inspect and steer delivery chains (status, break-glass)', load: () => group('chain', () => require('./commands/chain')) },
  { name: 'notifications', summary: 'outgoing subscriber notifications', load: () => group('notifications', () => require('./commands/notifications')) },
  {
    name: 'rescan',
    summary: 'rescan every gated image now against fresh OSV data and print the summary',
    load: () => group('rescan', () => require('./commands/rescan')),
  },
  { name: 'demo', summary: 'demo images to see the chain allow one image and block another', load: () => group('demo', () => require('./commands/demo')) },
  {
    name: 'inventory',
    summary: "watch a cluster's pods into the inventory of deployed images",
    load: () => group('inventory', () => require('./commands/inventory')),
  },
  { name: 'images', summary: 'deployed images: where a digest runs (from the inventory)', load: () => group('images', () => require('./commands/images')) },
  {
    name: 'setup-temporal',
    summary: "an existing Temporal cluster: create the namespace, register the chain's search attributes",
    load: () => group('setup-temporal', () => require('./commands/setup-temporal')),
  },
  { name: 'vex', summary: 'check an OpenVEX or CycloneDX VEX document', load: () => group('vex', () => require('./commands/vex')) },
  {
    name: 'codec-server',
    summary: "decrypt the chain's Temporal payloads for the Web UI and the temporal CLI",
    load: () => group('codec', () => require('./commands/codec')),
  },
];
/* eslint-enable @typescript-eslint/no-require-imports */

/** The command word of argv (after global options), or undefined. */
export function commandWord(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '-c' || arg === '--config') i++;
    else if (!arg.startsWith('-')) return arg === 'help' ? args[i + 1] : arg;
  }
  return undefined;
}

/** The program with every group registered, or — given argv — only the group it runs (the others as summaries for help). */
export function buildProgram(argv?: string[]): CommandType {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- commander only once a program is built
  const { Command } = require('commander') as typeof Commander;
  const program = new Command('dchain')
    .description('delivery-chain: build, scan, gate, sign, sync and distribute container images')
    .option('-c, --config <file>', "configuration file (YAML or JSON); default: $DCHAIN_CONFIG, the running stack's, or embedded defaults")
    .showHelpAfterError();
  const word = argv ? commandWord(argv.slice(2)) : undefined;
  for (const group of GROUPS) {
    if (!argv || group.name === word) group.load().register(program);
    else program.command(group.name).description(group.summary).helpOption(false).allowUnknownOption();
  }
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram(argv).parseAsync(argv);
  } catch (err) {
    const message = err instanceof ChainError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
    process.stderr.write(`dchain: ${message}\n`);
    process.exit(err instanceof ChainError && err.code === 'POLICY_DENIED' ? 3 : 1);
  }
}

if (require.main === module) void main();
