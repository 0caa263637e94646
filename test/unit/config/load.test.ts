import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, parseConfig } from '../../../src/config/load';
import { ChainError } from '../../../src/errors/chain-error';
import { connectWorker } from '../../../workers/temporal/connect';
import { freePort } from '../../../workers/local/managed-process';

function configError(fn: () => unknown): ChainError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ChainError, `expected a ChainError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the configuration to be refused');
}

const file = (name: string, text: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'dchain-config-'));
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

describe('configuration', () => {
  it('runs everything locally with no file at all', () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.temporal.address, undefined, 'a local dev server is started');
    assert.equal(config.redis.url, undefined, 'a local redis-server is started');
    assert.deepEqual(
      config.registries.map((r) => [r.name, r.url, r.managed]),
      [
        ['source', 'http://127.0.0.1:5000', true],
        ['mirror', 'http://127.0.0.1:5001', true],
      ],
    );
    assert.equal(config.sync.targets[0]?.registry, 'mirror');
    assert.equal(config.api.port, 8080);
  });

  it('names an unknown key', () => {
    const err = configError(() => loadConfig({ path: file('c.yml', 'temporal:\n  adress: 127.0.0.1:7233\n'), env: {} }));
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.match(err.message, /temporal: unknown key "adress"/);
  });

  it('names the field, the problem and the value of a wrong type', () => {
    const err = configError(() => loadConfig({ path: file('c.json', JSON.stringify({ api: { port: 'eighty' } })), env: {} }));
    assert.match(err.message, /api\.port: .*number.*\(got "eighty"\)/);
  });

  it('rescans daily by default; the interval is a duration and the schedule can be turned off', () => {
    assert.deepEqual(parseConfig({}).rescan, {
      enabled: true,
      interval: '24h',
      batchSize: 500,
      concurrency: 8,
      parallelBatches: 2,
      fullInterval: '7d',
      startUnblocked: true,
      rebuildDeployed: true,
    });
    assert.deepEqual(parseConfig({ rescan: { enabled: false, interval: '12h' } }).rescan, {
      enabled: false,
      interval: '12h',
      batchSize: 500,
      concurrency: 8,
      parallelBatches: 2,
      fullInterval: '7d',
      startUnblocked: true,
      rebuildDeployed: true,
    });
    assert.match(configError(() => parseConfig({ rescan: { interval: 'daily' } })).message, /rescan\.interval: a duration such as 30s, 5m, 24h or 7d/);
    assert.match(configError(() => parseConfig({ rescan: { batchSize: 1001 } })).message, /rescan\.batchSize/);
    assert.match(configError(() => parseConfig({ rescan: { parallelBatches: 0 } })).message, /rescan\.parallelBatches/);
  });

  it('refuses references to registries that are not configured', () => {
    const err = configError(() => parseConfig({ sync: { targets: [{ registry: 'nowhere' }] } }));
    assert.match(err.message, /sync\.targets\.0\.registry: no registry named "nowhere"/);
  });

  it('never echoes a secret it refuses', () => {
    const err = configError(() => parseConfig({ sources: [{ name: 'source', registry: 'source', secret: 'short' }] }));
    assert.match(err.message, /sources\.0\.secret: .*\[redacted\]/);
    assert.doesNotMatch(err.message, /"short"/);
  });

  it('says which file cannot be read or parsed', () => {
    assert.equal(configError(() => loadConfig({ path: '/nonexistent/dchain.yml', env: {} })).code, 'CONFIG_UNREADABLE');
    assert.match(configError(() => loadConfig({ path: file('c.yml', 'api: [1, 2\n'), env: {} })).message, /not valid YAML/);
  });

  it('takes addresses and secrets from the environment', () => {
    const config = loadConfig({
      env: {
        DCHAIN_TEMPORAL_ADDRESS: 'temporal.internal:7233',
        DCHAIN_REDIS_URL: 'redis://redis.internal:6379',
        DCHAIN_REGISTRY_SOURCE_USERNAME: 'ci',
        DCHAIN_REGISTRY_SOURCE_PASSWORD: 'p4ss',
        DCHAIN_SOURCE_SOURCE_SECRET: 'from-the-environment-0123',
      },
    });
    assert.equal(config.temporal.address, 'temporal.internal:7233');
    assert.equal(config.redis.url, 'redis://redis.internal:6379');
    assert.deepEqual(config.registries[0]?.credentials, { username: 'ci', password: 'p4ss' });
    assert.equal(config.sources[0]?.secret, 'from-the-environment-0123');
  });

  it('fails fast, naming the address, when Temporal is unreachable', async () => {
    const port = await freePort();
    const config = parseConfig({ temporal: { address: `127.0.0.1:${port}`, connectTimeoutMs: 2000 } });
    const started = Date.now();
    await assert.rejects(connectWorker(config), (err: unknown) => {
      assert.ok(err instanceof ChainError);
      assert.equal(err.code, 'SERVICE_UNREACHABLE');
      assert.match(err.message, new RegExp(`cannot reach Temporal at 127\\.0\\.0\\.1:${port}`));
      return true;
    });
    assert.ok(Date.now() - started < 10_000);
  });
});
