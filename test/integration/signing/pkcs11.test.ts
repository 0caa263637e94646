import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { attestImage, Pkcs11Signer, PREDICATE_TYPES, signImage, verifyImage } from '../../../src/signing';
import { testDataDir } from '../../support/services';
import { COSIGN_REGISTRY_FLAGS, cosignPath, cosignVerify, registryWithImage, runTool, SIGSTORE_DISABLED, sigstoreSkopeo, writeSkopeoTrust } from './support';
import { generateTokenKey, initSoftToken } from './softhsm';

void describe('PKCS#11 signer with a SoftHSM2 key', async () => {
  const dir = testDataDir('dchain-sign-pkcs11-');
  const image = await registryWithImage(dir);
  const token = initSoftToken(join(dir, 'hsm'));
  generateTokenKey(token, 'release-key');
  const signer = new Pkcs11Signer({ module: token.module, tokenLabel: token.tokenLabel, keyLabel: 'release-key', pin: token.pin });
  after(() => signer.close());
  const pubPath = join(dir, 'release.pub');

  void it('a wrong PIN, an unknown key or token label is a clear BAD_INPUT (checked before any login: PKCS#11 login is per process)', async () => {
    const wrongPin = new Pkcs11Signer({ module: token.module, tokenLabel: token.tokenLabel, keyLabel: 'release-key', pin: '000000' });
    await assert.rejects(wrongPin.keyId(), { code: 'BAD_INPUT', message: /login to token "dchain-test" failed/ });
    const noKey = new Pkcs11Signer({ module: token.module, tokenLabel: token.tokenLabel, keyLabel: 'absent', pin: token.pin });
    await assert.rejects(noKey.keyId(), { code: 'BAD_INPUT', message: /no private key labelled "absent"/ });
    const noToken = new Pkcs11Signer({ module: token.module, tokenLabel: 'nope', keyLabel: 'release-key', pin: token.pin });
    await assert.rejects(noToken.keyId(), { code: 'BAD_INPUT', message: /no token labelled "nope"/ });
    // The failed attempts released their sessions; a correct signer still signs.
    assert.equal((await signer.sign(Buffer.from('x')))[0], 0x30);
  });

  void it('signs an image with the token key and cosign verifies it with the exported public key', async () => {
    writeFileSync(pubPath, await signer.publicKeyPem());
    const result = await signImage(image.client, image.repo, image.digest, signer, { annotations: { signer: 'hsm' } });
    assert.equal(result.keyId, await signer.keyId());
    const verified = await cosignVerify(pubPath, image.ref);
    assert.equal(verified.code, 0, verified.stderr);
    const report = await verifyImage(image.client, image.repo, image.digest, [await signer.publicKeyPem()]);
    assert.deepEqual(report.signedBy, [result.keyId]);
  });

  void it('attests with the token key and cosign verify-attestation accepts it', async () => {
    await attestImage(image.client, image.repo, image.digest, signer, PREDICATE_TYPES.gateDecision, { decision: 'allow' });
    const verified = await runTool(cosignPath(), [
      'verify-attestation',
      '--key',
      pubPath,
      '--type',
      PREDICATE_TYPES.gateDecision,
      '--insecure-ignore-tlog=true',
      ...COSIGN_REGISTRY_FLAGS,
      image.ref,
    ]);
    assert.equal(verified.code, 0, verified.stderr);
  });

  void it('skopeo accepts the token-made signature under a sigstoreSigned policy', async (t) => {
    const trust = writeSkopeoTrust(dir, image.host, pubPath);
    const copied = await runTool(sigstoreSkopeo(), [
      '--policy',
      trust.policy,
      '--registries.d',
      trust.registriesD,
      'copy',
      '--remove-signatures',
      '--src-tls-verify=false',
      `docker://${image.ref}`,
      `oci:${join(dir, 'copy')}:v1`,
    ]);
    if (SIGSTORE_DISABLED.test(copied.stderr)) return t.skip('this skopeo is built without sigstore support (install skopeo-sigstore)');
    assert.equal(copied.code, 0, copied.stderr);
  });
});
