import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { p1363ToDer } from '../../../src/signing/ecdsa-der';

void describe('P1363 to DER ECDSA signatures (SEC 1 C.8)', () => {
  void it('encodes minimal positive INTEGERs: zero bytes stripped, 0x00 added before a set top bit', () => {
    const r = Buffer.alloc(32, 0);
    r[2] = 0x01; // two leading zero bytes to strip
    const s = Buffer.alloc(32, 0xff); // top bit set: needs 0x00
    const der = p1363ToDer(Buffer.concat([r, s]));
    const expected = Buffer.concat([Buffer.from([0x30, 2 + 30 + 2 + 33, 0x02, 30]), r.subarray(2), Buffer.from([0x02, 33, 0x00]), s]);
    assert.deepEqual(der, expected);
  });

  void it('keeps a single zero byte for a zero integer', () => {
    assert.deepEqual(p1363ToDer(Buffer.alloc(64)), Buffer.from([0x30, 6, 0x02, 1, 0, 0x02, 1, 0]));
  });

  void it('produces signatures that verify as DER for real P-256 signatures', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    for (let i = 0; i < 200; i++) {
      const data = Buffer.from(`message ${i}`);
      const raw = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      assert.ok(verify('sha256', data, { key: publicKey, dsaEncoding: 'der' }, p1363ToDer(raw)));
    }
  });

  void it('refuses signatures of the wrong length', () => {
    assert.throws(() => p1363ToDer(Buffer.alloc(63)), /64-byte/);
  });
});
