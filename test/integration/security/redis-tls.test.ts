import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { Redis, type RedisOptions } from 'ioredis';
import { createActivityDeps } from '../../../activities/deps';
import { withRedis } from '../../../cli/context';
import { parseConfig } from '../../../src/config/load';
import { type Config } from '../../../src/config/schema';
import { connectRedis, describeRedis, IngestQueue, producerConnection, redisTarget, workerConnection } from '../../../src/ingest';
import { createLogger } from '../../../src/log/logger';
import { admissionRedis } from '../../../src/policy/admission';
import { startRedis } from '../../../workers/local/redis-server';
import { onCleanup, testDataDir } from '../../support/services';
import { createTestPki } from '../../support/tls-certs';

/**
 * Redis with TLS only, client certificates required and an ACL user (default user off): every Redis
 * client of the project, made from the configuration, gets through; clients without TLS, a client
 * certificate or the password do not. The chain over this Redis runs end to end in
 * test/cluster/secure-stack.test.ts (with Temporal mTLS, which needs the cluster topology's server).
 */
describe('Redis AUTH + TLS for every Redis client', () => {
  let config: Config;
  let caFile: string;
  let port: number;
  const password = randomBytes(18).toString('base64url');

  before(async () => {
    const dir = testDataDir('dchain-redis-tls-');
    const pki = createTestPki(join(dir, 'pki'));
    caFile = pki.caFile;
    const client = pki.issue('dchain-client');
    const redis = await startRedis({ dataDir: join(dir, 'redis'), secure: { ...pki.issue('redis'), caFile, username: 'dchain', password } });
    onCleanup(() => redis.process.stop());
    port = redis.port;
    const passwordFile = join(dir, 'redis-password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    config = parseConfig({
      dataDir: dir,
      redis: { url: redis.url, username: 'dchain', passwordFile, tls: { caFile, certFile: client.certFile, keyFile: client.keyFile } },
    });
  });

  const ready = (redis: Redis) =>
    redis.status === 'ready'
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          redis.once('ready', () => resolve());
          redis.once('end', () => reject(new Error('connection ended')));
        });

  it("the API's, the queue worker's, the activities', admission's and the CLI's connections all work", async () => {
    const target = redisTarget(config);
    const producer = producerConnection(target);
    const worker = workerConnection(target);
    const { redis: admission } = admissionRedis(target, describeRedis(config));
    const deps = createActivityDeps(config, createLogger({ level: 'silent' }));
    const watcher = connectRedis(target, { maxRetriesPerRequest: 3 }); // dchain inventory watch
    try {
      for (const r of [producer, worker, admission, watcher]) {
        await ready(r);
        assert.equal(await r.ping(), 'PONG');
      }
      assert.equal(await deps.redis.ping(), 'PONG');
      // BullMQ on top of the producer's connection (the connections it duplicates inherit TLS and AUTH).
      const queue = IngestQueue.fromConfig(producer, config.ingest);
      try {
        assert.equal((await queue.depth()).waiting, 0);
      } finally {
        await queue.close();
      }
      assert.equal(await withRedis(config, (r) => r.set('dchain:tls-check', '1')), 'OK');
      assert.equal(await withRedis(config, (r) => r.get('dchain:tls-check')), '1');
    } finally {
      for (const r of [producer, worker, admission, watcher, deps.redis]) r.disconnect();
    }
  });

  it('refuses plaintext, TLS without a client certificate, no AUTH and a wrong password; no message shows the password', async () => {
    const attempt = async (options: RedisOptions) => {
      const redis = new Redis({
        ...options,
        host: '127.0.0.1',
        port,
        lazyConnect: true,
        connectTimeout: 3_000,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        enableReadyCheck: false,
      });
      // A refused AUTH closes the connection; the reason is in the connection's error event.
      const errors: Error[] = [];
      redis.on('error', (err: Error) => errors.push(err));
      try {
        await redis.connect();
        return await redis.ping();
      } catch (err) {
        throw errors.find((e) => /AUTH|WRONGPASS/.test(e.message)) ?? err;
      } finally {
        redis.disconnect();
      }
    };
    const tls = (redisTarget(config) as RedisOptions).tls;
    await assert.rejects(attempt({}), 'plaintext');
    await assert.rejects(attempt({ tls: { ca: readFileSync(caFile) } }), 'TLS without a client certificate');
    await assert.rejects(attempt({ ...(tls ? { tls } : {}) }), /NOAUTH/);
    await assert.rejects(attempt({ ...(tls ? { tls } : {}), username: 'dchain', password: 'not-the-password' }), /WRONGPASS/);
    assert.equal(await attempt({ ...(tls ? { tls } : {}), username: 'dchain', password }), 'PONG');
    const wrong = parseConfig({ redis: { url: `rediss://127.0.0.1:${port}`, username: 'dchain', password: 'not-the-password', tls: config.redis.tls } });
    await assert.rejects(
      withRedis(wrong, async () => undefined),
      (err: Error) => /cannot reach Redis at rediss:\/\/127\.0\.0\.1/.test(err.message) && !err.message.includes('not-the-password'),
    );
    assert.ok(!describeRedis(config).includes(password));
  });
});
