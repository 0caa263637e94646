import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { type Redis } from 'ioredis';
import { withRedis } from '../../cli/context';
import { parseConfig } from '../../src/config/load';
import { type Config } from '../../src/config/schema';
import { connectRedis, describeRedis, IngestQueue, producerConnection, redisTarget, workerConnection } from '../../src/ingest';
import { type LocalRedisSentinel, startRedisSentinel } from '../../workers/local/redis-sentinel';
import { onCleanup, testDataDir } from '../support/services';
import { createTestPki } from '../support/tls-certs';

/**
 * The Sentinel path secured: a primary, a replica (replicating over TLS as the ACL user) and three
 * Sentinels, all on TLS only with client certificates, the Sentinels with their own password. The
 * project's clients find the primary through the Sentinels with `redis.sentinel` + `redis.tls`.
 */
describe('redis.sentinel with TLS and AUTH', () => {
  let config: Config;
  let redis: LocalRedisSentinel;
  const password = randomBytes(18).toString('base64url');

  before(async () => {
    const dir = testDataDir('dchain-sentinel-tls-');
    const pki = createTestPki(join(dir, 'pki'));
    redis = await startRedisSentinel({ dataDir: join(dir, 'redis'), secure: { ...pki.issue('redis'), caFile: pki.caFile, username: 'dchain', password } });
    onCleanup(() => redis.stop());
    const client = pki.issue('dchain-client');
    const passwordFile = join(dir, 'redis-password');
    writeFileSync(passwordFile, password, { mode: 0o600 });
    // The data nodes' AUTH from redis.username / passwordFile, the Sentinels' from DCHAIN_REDIS_SENTINEL_PASSWORD's setting.
    config = parseConfig({
      dataDir: dir,
      redis: {
        username: 'dchain',
        passwordFile,
        tls: { caFile: pki.caFile, certFile: client.certFile, keyFile: client.keyFile },
        sentinel: { name: redis.name, sentinels: redis.sentinels, sentinelPassword: password, tls: true },
      },
    });
  });

  const ready = (r: Redis) =>
    r.status === 'ready'
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          r.once('ready', () => resolve());
          r.once('end', () => reject(new Error('connection ended')));
        });

  it('every client kind reaches the primary through the Sentinels, and writes reach the replica', async () => {
    const target = redisTarget(config);
    const clients = [producerConnection(target), workerConnection(target), connectRedis(target)];
    try {
      for (const c of clients) {
        c.on('error', () => undefined);
        await ready(c);
        assert.equal(await c.ping(), 'PONG');
      }
      const [producer] = clients as [Redis];
      assert.match(String(await producer.call('ROLE')), /^master/);
      // The replica's first sync (over TLS, as the ACL user) may still be running.
      const deadline = Date.now() + 30_000;
      while (!/slave0:.*state=online/.test(await producer.info('replication')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
      await producer.set('dchain:sentinel-tls', 'ok');
      assert.equal(Number(await producer.call('WAIT', '1', '1500')), 1, 'the replica acknowledged the write over TLS replication');
      const queue = IngestQueue.fromConfig(producer, config.ingest);
      try {
        assert.equal((await queue.depth()).waiting, 0);
      } finally {
        await queue.close();
      }
      assert.equal(await withRedis(config, (r) => r.get('dchain:sentinel-tls')), 'ok');
      assert.ok(!describeRedis(config).includes(password));
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it("without the Sentinels' password no primary is found", async () => {
    const wrong = parseConfig({ ...config, redis: { ...config.redis, sentinel: { ...config.redis.sentinel!, sentinelPassword: 'not-the-password' } } });
    await assert.rejects(
      withRedis(wrong, (r) => r.ping()),
      /cannot reach Redis at Sentinel/,
    );
  });
});
