import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { ChainError } from '../../../src/errors/chain-error';
import { signBody, verifySharedSecret, verifySignature } from '../../../src/ingest';

const SECRET = 'shared-secret-0123456789';
const unauthorized = (err: unknown) => ChainError.is(err, 'UNAUTHORIZED') && !err.message.includes(SECRET);

void describe('webhook authentication', () => {
  void it('accepts the secret as Bearer, Token or bare value', () => {
    verifySharedSecret(`Bearer ${SECRET}`, SECRET);
    verifySharedSecret(`token ${SECRET}`, SECRET);
    verifySharedSecret(SECRET, SECRET);
  });

  void it('refuses a missing, shorter, longer or different secret without echoing it', () => {
    assert.throws(() => verifySharedSecret(undefined, SECRET), unauthorized);
    assert.throws(() => verifySharedSecret(`Bearer ${SECRET.slice(0, -1)}`, SECRET), unauthorized);
    assert.throws(() => verifySharedSecret(`Bearer ${SECRET}x`, SECRET), unauthorized);
    assert.throws(() => verifySharedSecret('Bearer another-secret-0123456789', SECRET), unauthorized);
  });

  void it('signs as HMAC-SHA256 over "<timestamp>.<body>" (independently computed)', () => {
    const expected = createHmac('sha256', 'k').update('1700000000.{"a":1}').digest('hex');
    assert.equal(signBody('k', 1700000000, '{"a":1}'), `sha256=${expected}`);
  });

  void it('verifies signature and timestamp window', () => {
    const body = Buffer.from('{"a":1}');
    const now = 1_700_000_000_000;
    const ts = now / 1000;
    verifySignature({ signature: signBody('key', ts, body), timestamp: String(ts) }, body, 'key', 300_000, now);
    assert.throws(
      () => verifySignature({ signature: signBody('key', ts, body), timestamp: String(ts) }, Buffer.from('{"a":2}'), 'key', 300_000, now),
      unauthorized,
    );
    assert.throws(() => verifySignature({ signature: signBody('key', ts - 301, body), timestamp: String(ts - 301) }, body, 'key', 300_000, now), /clock skew/);
    assert.throws(() => verifySignature({ timestamp: String(ts) }, body, 'key', 300_000, now), /missing/);
    assert.throws(() => verifySignature({ signature: 'x', timestamp: 'yesterday' }, body, 'key', 300_000, now), /Unix seconds/);
  });
});
