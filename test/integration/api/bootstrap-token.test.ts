import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { evaluateAccess } from '../../../src/access/policy';
import { TokenStore } from '../../../src/access/tokens';
import { parseConfig } from '../../../src/config/load';
import { ensureBootstrapToken } from '../../../workers/process/bootstrap-token';
import { testDataDir, useRedis } from '../../support/services';

describe('the bootstrap admin token of npm start (real Redis)', () => {
  it('is created once into the data directory (0600), authenticates as admin, and is replaced only when Redis lost it', async () => {
    const dataDir = testDataDir();
    const server = await useRedis(dataDir);
    const config = parseConfig({ dataDir, redis: { url: server.url } });
    const first = await ensureBootstrapToken(config, dataDir);
    assert.ok(first.token?.startsWith('dct_'));
    assert.equal(statSync(first.file).mode & 0o777, 0o600);
    assert.equal(readFileSync(first.file, 'utf8').trim(), first.token);
    const redis = new Redis(server.url);
    try {
      const store = new TokenStore(redis);
      const auth = await store.authenticate(first.token!);
      assert.ok(auth.ok);
      assert.equal(evaluateAccess(auth.token.policies, 'token:Create', 'dchain:*').allowed, true);
      // A second start prints nothing: the token is in the file.
      assert.equal((await ensureBootstrapToken(config, dataDir)).token, undefined);
      // Revoked stays revoked (the operator meant it).
      await store.revoke(auth.token.id);
      assert.equal((await ensureBootstrapToken(config, dataDir)).token, undefined);
      // A Redis that lost its data gets a new one.
      await redis.flushall();
      const again = await ensureBootstrapToken(config, dataDir);
      assert.ok(again.token && again.token !== first.token);
      // Never stored in the clear.
      const keys = await redis.keys('*');
      for (const key of keys) if ((await redis.type(key)) === 'string') assert.ok(!(await redis.get(key))!.includes(again.token), `${key} holds no secret`);
      rmSync(again.file);
    } finally {
      redis.disconnect();
    }
  });
});
