import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { decryptCosignPrivateKey, encryptCosignPrivateKey, SIGSTORE_PRIVATE_KEY_PEM_TYPE } from '../../../src/signing/cosign-key-format';
import { generateKeyPair, loadPrivateKey, parsePemBlocks } from '../../../src/signing/key-files';
import { publicPemOf } from '../../../src/signing/signer';
import { COSIGN_KEY_PASSWORD, fixtureText } from './fixtures';

const pkcs8 = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'der' });

void describe('cosign encrypted private key format', () => {
  void it('opens a key written by cosign generate-key-pair and finds the public key cosign wrote', async () => {
    const key = await loadPrivateKey(fixtureText('cosign.key'), COSIGN_KEY_PASSWORD);
    assert.equal(publicPemOf(key), fixtureText('cosign.pub'));
  });

  void it('writes the JSON document go-securesystemslib writes, in a SIGSTORE PEM block with 64-column lines', async () => {
    const pem = await encryptCosignPrivateKey(pkcs8(), 'secret');
    const [block, ...rest] = parsePemBlocks(pem);
    assert.equal(rest.length, 0);
    assert.equal(block?.type, SIGSTORE_PRIVATE_KEY_PEM_TYPE);
    assert.ok(
      pem
        .split('\n')
        .slice(1, -3)
        .every((line) => line.length === 64),
    );
    const doc = JSON.parse(block!.body.toString('utf8'));
    assert.deepEqual(Object.keys(doc), ['kdf', 'cipher', 'ciphertext']);
    assert.deepEqual(doc.kdf.params, { N: 65536, r: 8, p: 1 });
    assert.equal(doc.kdf.name, 'scrypt');
    assert.equal(Buffer.from(doc.kdf.salt, 'base64').length, 32);
    assert.equal(doc.cipher.name, 'nacl/secretbox');
    assert.equal(Buffer.from(doc.cipher.nonce, 'base64').length, 24);
  });

  void it('round-trips, including the empty password cosign allows', async () => {
    for (const password of ['correct horse', '']) {
      const der = pkcs8();
      const pem = await encryptCosignPrivateKey(der, password);
      assert.deepEqual(await decryptCosignPrivateKey(parsePemBlocks(pem)[0]!.body, password), der);
    }
  });

  void it('refuses a wrong password, a flipped ciphertext byte and unknown scrypt parameters with BAD_INPUT', async () => {
    const pem = await encryptCosignPrivateKey(pkcs8(), 'right', { N: 32768, r: 8, p: 1 });
    const body = parsePemBlocks(pem)[0]!.body;
    await assert.rejects(decryptCosignPrivateKey(body, 'wrong'), { code: 'BAD_INPUT', message: /wrong password/ });
    const doc = JSON.parse(body.toString('utf8'));
    const ct = Buffer.from(doc.ciphertext, 'base64');
    ct[5]! ^= 1;
    const tampered = Buffer.from(JSON.stringify({ ...doc, ciphertext: ct.toString('base64') }));
    await assert.rejects(decryptCosignPrivateKey(tampered, 'right'), { code: 'BAD_INPUT', message: /decryption failed/ });
    const huge = Buffer.from(JSON.stringify({ ...doc, kdf: { ...doc.kdf, params: { N: 1 << 24, r: 8, p: 1 } } }));
    await assert.rejects(decryptCosignPrivateKey(huge, 'right'), { code: 'BAD_INPUT', message: /unsupported scrypt parameters/ });
    await assert.rejects(decryptCosignPrivateKey(Buffer.from('not json'), 'right'), { code: 'BAD_INPUT' });
    await assert.rejects(decryptCosignPrivateKey(Buffer.from('{"kdf":{}}'), 'right'), { code: 'BAD_INPUT', message: /unexpected content/ });
  });

  void it('generates a pair whose private half loads back to the same public key', async () => {
    const pair = await generateKeyPair('pw2');
    assert.match(pair.privateKeyPem, /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
    assert.equal(publicPemOf(await loadPrivateKey(pair.privateKeyPem, 'pw2')), pair.publicKeyPem);
  });
});
