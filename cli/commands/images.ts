import Table from 'cli-table3';
import { type Command } from 'commander';
import { ChainError } from '../../src/errors';
import { InventoryStore } from '../../src/inventory';
import { cliConfig, withRedis } from '../context';

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** `dchain images deployments <digest>`: where a digest runs, from the pod watcher's inventory. */
export function register(program: Command): void {
  const images = program.command('images').description('deployed images (the inventory kept by `dchain inventory watch`)');
  images
    .command('deployments <digest>')
    .description('the pods that run a digest: cluster, namespace, pod, owner workload, first and last seen')
    .option('--json', 'machine-readable output')
    .action(async (digest: string, opts: { json?: boolean }) => {
      if (!DIGEST.test(digest)) throw new ChainError('BAD_INPUT', `"${digest}" is not an image digest (sha256:<64 hex digits>)`);
      await withRedis(cliConfig(program.opts()), async (redis) => {
        const deployments = await new InventoryStore(redis).deployments(digest);
        if (opts.json) return void process.stdout.write(`${JSON.stringify({ digest, deployments }, null, 2)}\n`);
        if (!deployments.length) return void process.stdout.write(`${digest} runs in no pod the inventory knows\n`);
        const table = new Table({
          head: ['cluster', 'namespace', 'workload', 'pod', 'containers', 'first seen', 'last seen'],
          style: { head: [], border: [] },
        });
        for (const d of deployments)
          table.push([d.cluster, d.namespace, `${d.owner.kind}/${d.owner.name}`, d.pod, d.containers.join(','), d.firstSeen, d.lastSeen]);
        process.stdout.write(`${table.toString()}\n`);
      });
    });
}
