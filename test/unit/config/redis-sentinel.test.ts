import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyEnvOverrides, parseConfig } from '../../../src/config/load';
import { ChainError } from '../../../src/errors/chain-error';
import { describeRedis, redisTarget } from '../../../src/ingest';

const sentinel = {
  name: 'dchain',
  sentinels: [
    { host: 'redis-sentinel-1', port: 26379 },
    { host: 'redis-sentinel-2', port: 26379 },
  ],
};

describe('redis.sentinel', () => {
  it('gives every client the Sentinels and the primary name instead of a URL', () => {
    const config = parseConfig({ redis: { sentinel } });
    assert.deepEqual(redisTarget(config), { name: 'dchain', sentinels: sentinel.sentinels });
    assert.equal(describeRedis(config), 'Sentinel redis-sentinel-1:26379,redis-sentinel-2:26379 (primary "dchain")');
    assert.equal(redisTarget(parseConfig({ redis: { url: 'redis://cache:6380' } })), 'redis://cache:6380');
  });

  it('refuses a URL and Sentinel together, and a Sentinel list that is empty, naming the field', () => {
    for (const [redis, field] of [
      [{ url: 'redis://x:6379', sentinel }, 'redis.sentinel: set either redis.url or redis.sentinel'],
      [{ sentinel: { name: 'dchain', sentinels: [] } }, 'redis.sentinel.sentinels: at least one Sentinel'],
      [{ sentinel: { name: 'dchain', sentinels: [{ host: 'a', port: 70000 }] } }, 'redis.sentinel.sentinels.0.port'],
    ] as const) {
      assert.throws(
        () => parseConfig({ redis }),
        (err: unknown) => err instanceof ChainError && err.code === 'CONFIG_INVALID' && err.message.includes(field),
      );
    }
  });

  it('takes the passwords from the environment, never printing them', () => {
    const env = { DCHAIN_REDIS_PASSWORD: 'data-node-password', DCHAIN_REDIS_SENTINEL_PASSWORD: 'sentinel-password' };
    assert.equal(parseConfig(applyEnvOverrides({}, env)).redis.sentinel, undefined, 'without a sentinel section the passwords change nothing');
    const withSentinel = parseConfig(applyEnvOverrides({ redis: { sentinel: { ...sentinel, tls: true } } }, env));
    const target = redisTarget(withSentinel) as Record<string, unknown>;
    assert.equal(target.password, 'data-node-password');
    assert.equal(target.sentinelPassword, 'sentinel-password');
    assert.equal(target.enableTLSForSentinelMode, true);
    assert.ok(!describeRedis(withSentinel).includes('password'));
  });
});
