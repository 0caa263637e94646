import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type * as ContainerFixturesModule from './containers';
import { type LocalRedis, startRedis } from '../../workers/local/redis-server';
import { type LocalRegistry, type LocalRegistryOptions, startRegistry } from '../../workers/local/registry-server';
import { startTemporalDevServer, type TemporalDevServer } from '../../workers/local/temporal-dev-server';

/**
 * Services for one test file: each started on free loopback ports in a fresh temp directory and
 * stopped when the file's tests are done (last started, first stopped), wherever `use…` was called
 * (a test, a `before` hook). Tests never touch a service they did not start.
 */
const cleanups: Array<() => unknown> = [];

// Registered when this module is first imported, i.e. at the root of the test file.
after(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs `fn` when the test file is done, before the services started earlier are stopped. */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

export function testDataDir(prefix = 'dchain-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => {
    if (process.env.KEEP_TEST_DATA !== '1') rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/**
 * TEST_SERVICES=containers starts the same services through testcontainers (needs a Docker engine);
 * registries with htpasswd or token auth, whose files live on the host, stay local processes.
 */
const containers = process.env.TEST_SERVICES === 'containers';
type ContainerFixtures = typeof ContainerFixturesModule;
// Loaded only in that mode: testcontainers takes most of a second to import.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const containerFixtures = (): ContainerFixtures => require('./containers') as ContainerFixtures;

/** The Temporal dev server, headless unless `ui` (the browser tests open its Web UI at `uiUrl`). */
export async function useTemporal(dataDir = testDataDir(), options: { ui?: boolean } = {}): Promise<TemporalDevServer> {
  const server =
    containers && !options.ui ? await containerFixtures().temporalContainer() : await startTemporalDevServer({ dataDir, headless: options.ui !== true });
  onCleanup(() => server.process.stop());
  return server;
}

export async function useRedis(dataDir = testDataDir()): Promise<LocalRedis> {
  const redis = containers ? await containerFixtures().redisContainer() : await startRedis({ dataDir });
  onCleanup(() => redis.process.stop());
  return redis;
}

export async function useRegistry(options: Partial<LocalRegistryOptions> & { name?: string } = {}): Promise<LocalRegistry> {
  const name = options.name ?? 'registry';
  const registry =
    containers && options.auth === undefined && options.tls === undefined
      ? await containerFixtures().registryContainer({ ...options, name })
      : await startRegistry({ name, dataDir: options.dataDir ?? testDataDir(), ...options });
  onCleanup(() => registry.process.stop());
  return registry;
}
