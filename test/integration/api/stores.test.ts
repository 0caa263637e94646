/** The token store and the audit log against a real Redis: every refusal of a token, retention, filters, cursors, the file copy. */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ADMIN_POLICY } from '../../../src/access/policy';
import { TokenStore } from '../../../src/access/tokens';
import { AUDIT_STREAM, AuditLog } from '../../../src/audit/log';
import { onCleanup, testDataDir, useRedis } from '../../support/services';

describe('token store and audit log (real Redis)', () => {
  let redis: Redis;
  let dataDir: string;
  before(async () => {
    dataDir = testDataDir();
    const server = await useRedis(dataDir);
    redis = new Redis(server.url);
    onCleanup(() => redis.disconnect());
  });

  it('authenticates only a well-formed, known, unrevoked, unexpired token with the right secret', async () => {
    let now = new Date('2030-01-01T00:00:00Z');
    const store = new TokenStore(redis, () => now);
    const { token, secret } = await store.create({ name: 'ci', policies: [ADMIN_POLICY], expiresAt: '2030-01-01T01:00:00Z' });
    assert.deepEqual((await store.authenticate(secret)).ok, true);
    const tampered = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    assert.deepEqual(await store.authenticate(tampered), { ok: false, refusal: 'wrong-secret', tokenId: token.id });
    assert.deepEqual(await store.authenticate('dct_0123456789abcdef_' + 'x'.repeat(43)), { ok: false, refusal: 'unknown', tokenId: '0123456789abcdef' });
    assert.deepEqual(await store.authenticate('Bearer nonsense'), { ok: false, refusal: 'malformed' });
    now = new Date('2030-01-01T01:00:00Z');
    assert.deepEqual(await store.authenticate(secret), { ok: false, refusal: 'expired', tokenId: token.id });
    now = new Date('2030-01-01T00:30:00Z');
    await store.revoke(token.id);
    assert.deepEqual(await store.authenticate(secret), { ok: false, refusal: 'revoked', tokenId: token.id });
    await assert.rejects(store.create({ name: 'old', policies: [ADMIN_POLICY], expiresAt: '2029-01-01T00:00:00Z' }), /in the past/);
    await assert.rejects(store.create({ name: '', policies: [] }), /name[\s\S]*policy/);
    const raw = await redis.get(`dchain:access:token:${token.id}`);
    assert.ok(raw && !raw.includes(secret.split('_')[2]!), 'only the hash is stored');
    assert.equal((await store.list()).find((t) => t.id === token.id)?.revokedAt, '2030-01-01T00:30:00.000Z');
  });

  it('keeps maxEntries, filters by actor, action prefix, resource and time, pages by cursor, copies to a 0600 file', async () => {
    const file = join(dataDir, 'audit.jsonl');
    const log = new AuditLog(redis, { maxEntries: 50, file });
    await redis.del(AUDIT_STREAM);
    for (let i = 0; i < 80; i++) {
      await log.append({
        requestId: `r${i}`,
        tokenId: i % 2 ? 'aaaa' : 'bbbb',
        tokenName: i % 2 ? 'odd' : 'even',
        action: i % 3 ? 'chain:Read' : 'chain:Retry',
        resource: `dchain:source/team-${i % 4}/app`,
        outcome: 'success',
        status: 200,
        reason: 'done',
      });
    }
    assert.equal(await redis.xlen(AUDIT_STREAM), 50);
    assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 80);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const odd = await log.list({ actor: 'odd', action: 'chain:Re*', resource: 'dchain:source/team-1/*' }, { limit: 100 });
    assert.ok(odd.entries.length > 0 && odd.entries.every((e) => e.tokenName === 'odd' && e.resource === 'dchain:source/team-1/app'));
    assert.deepEqual(
      odd.entries.map((e) => e.requestId),
      odd.entries.map((e) => e.requestId).sort((a, b) => Number(b.slice(1)) - Number(a.slice(1))),
      'newest first',
    );
    const byId = await log.list({ actor: 'aaaa' }, { limit: 100 });
    assert.equal(byId.entries.length, 25);
    const first = await log.list({}, { limit: 20 });
    const second = await log.list({}, { limit: 20, cursor: first.next! });
    const third = await log.list({}, { limit: 20, cursor: second.next! });
    assert.deepEqual(
      [...first.entries, ...second.entries, ...third.entries].map((e) => e.requestId),
      Array.from({ length: 50 }, (_, i) => `r${79 - i}`),
    );
    assert.equal(third.next, undefined);
    assert.equal((await log.list({ since: new Date(Date.now() + 60_000) }, { limit: 10 })).entries.length, 0);
    await assert.rejects(log.list({}, { limit: 10, cursor: 'nope' }), /not an audit entry id/);
  });
});
