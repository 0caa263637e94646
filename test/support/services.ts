import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { type LocalRedis, startRedis } from '../../workers/local/redis-server';
import { type LocalRegistry, type LocalRegistryOptions, startRegistry } from '../../workers/local/registry-server';
import { startTemporalDevServer, type TemporalDevServer } from '../../workers/local/temporal-dev-server';

/**
 * Services for one test file: each started on free loopback ports in a fresh temp directory and
 * stopped by an `after` hook. Tests never touch a service they did not start.
 */
export function testDataDir(prefix = 'dchain-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => {
    if (process.env.KEEP_TEST_DATA !== '1') rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

export async function useTemporal(dataDir = testDataDir()): Promise<TemporalDevServer> {
  const server = await startTemporalDevServer({ dataDir, headless: true });
  after(() => server.process.stop());
  return server;
}

export async function useRedis(dataDir = testDataDir()): Promise<LocalRedis> {
  const redis = await startRedis({ dataDir });
  after(() => redis.process.stop());
  return redis;
}

export async function useRegistry(options: Partial<LocalRegistryOptions> & { name?: string } = {}): Promise<LocalRegistry> {
  const registry = await startRegistry({ name: options.name ?? 'registry', dataDir: options.dataDir ?? testDataDir(), ...options });
  after(() => registry.process.stop());
  return registry;
}
