import { type Command } from 'commander';
import { pushDemoImages } from '../../src/demo';
import { RegistryDirectory } from '../../src/registry';
import { cliConfig } from '../context';

export function register(program: Command): void {
  const demo = program.command('demo').description('demo images to see the chain allow one image and block another');
  demo
    .command('push')
    .description(
      'build two small images offline (busybox-static, a dpkg status, a package-lock) and push them into the source registry; its notifications start their chains',
    )
    .option('--registry <name>', 'configured registry to push to', 'source')
    .option('--json', 'machine-readable output')
    .action(async (opts: { registry: string; json?: boolean }) => {
      const config = cliConfig(program.opts());
      const registries = new RegistryDirectory(config.registries);
      const registry = registries.get(opts.registry);
      const client = registries.client(registry.name);
      try {
        const pushed = await pushDemoImages(client);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ registry: registry.name, images: pushed }, null, 2)}\n`);
          return;
        }
        for (const p of pushed) process.stdout.write(`pushed ${p.reference}@${p.digest} (expected: ${p.expect})\n`);
        process.stdout.write(`\nFollow them: npx dchain chain status 'chain:${registry.name}/<repository>@<digest>' (or the Temporal UI)\n`);
      } finally {
        await client.close();
      }
    });
}
