import assert from 'node:assert/strict';
import { generateKeyPairSync, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { KeySigner } from '../../../src/signing/key-signer';
import { PublicKeyVerifier } from '../../../src/signing/key-verifier';
import { loadPrivateKey, loadPublicKey } from '../../../src/signing/key-files';
import { keyIdOf } from '../../../src/signing/signer';
import { fixtureText } from './fixtures';

const p256 = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

void describe('key files', () => {
  void it('loads PKCS#8, SEC1 and password-protected PKCS#8 P-256 keys', async () => {
    const { privateKey, publicKey } = p256();
    const forms: Array<[string, string | undefined]> = [
      [privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), undefined],
      [privateKey.export({ type: 'sec1', format: 'pem' }).toString(), undefined],
      [privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pp' }).toString(), 'pp'],
    ];
    for (const [pem, password] of forms) assert.equal(keyIdOf(await loadPrivateKey(pem, password)), keyIdOf(publicKey));
  });

  void it('refuses other curves, RSA, missing passwords and text without a key, naming the problem', async () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await assert.rejects(loadPrivateKey(p384), { code: 'BAD_INPUT', message: /only ECDSA P-256.*secp384r1/ });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await assert.rejects(loadPrivateKey(rsa), { code: 'BAD_INPUT', message: /got rsa/ });
    await assert.rejects(loadPrivateKey(fixtureText('cosign.key')), { code: 'BAD_INPUT', message: /needs a password/ });
    await assert.rejects(loadPrivateKey('hello'), { code: 'BAD_INPUT', message: /no PEM private key/ });
    const broken = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';
    await assert.rejects(loadPrivateKey(broken), (err: Error & { code?: string }) => err.code === 'BAD_INPUT' && !err.message.includes('AAAA'));
    assert.throws(() => loadPublicKey('nope', 'trusted key #1'), { code: 'BAD_INPUT', message: /trusted key #1: no "PUBLIC KEY"/ });
  });

  void it('KeySigner makes DER signatures that its public key and cosign-style verifiers accept', async () => {
    const signer = await KeySigner.fromPem(p256().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const data = Buffer.from('payload');
    const sig = await signer.sign(data);
    assert.equal(sig[0], 0x30, 'ASN.1 SEQUENCE');
    const verifier = PublicKeyVerifier.fromPem(await signer.publicKeyPem());
    assert.equal(verifier.keyId, await signer.keyId());
    assert.ok(verifier.verify(data, sig));
    assert.ok(verify('sha256', data, { key: loadPublicKey(await signer.publicKeyPem()), dsaEncoding: 'der' }, sig));
    assert.equal(verifier.verify(Buffer.from('payloaD'), sig), false);
    assert.equal(verifier.verify(data, Buffer.from('garbage')), false);
    assert.doesNotMatch(JSON.stringify(signer), /PRIVATE/);
  });
});
