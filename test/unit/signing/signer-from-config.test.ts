import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createSigner } from '../../../src/signing/signer-from-config';
import { signingSchema } from '../../../src/config/sections/signing';
import { COSIGN_KEY_PASSWORD, fixtureText } from './fixtures';

const dir = mkdtempSync(join(tmpdir(), 'dchain-signer-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const keyFile = join(dir, 'cosign.key');
writeFileSync(keyFile, fixtureText('cosign.key'));

void describe('signer from configuration and environment', () => {
  void it('reads a key file with the password from the named variable', async () => {
    const signer = await createSigner({ kind: 'file', path: keyFile, passwordEnv: 'MY_PW' }, { MY_PW: COSIGN_KEY_PASSWORD });
    assert.equal(await signer.publicKeyPem(), fixtureText('cosign.pub'));
  });

  void it('without a key section, takes the PEM or the file from DCHAIN_SIGNING_KEY / _FILE', async () => {
    const fromPem = await createSigner(undefined, { DCHAIN_SIGNING_KEY: fixtureText('cosign.key'), DCHAIN_SIGNING_KEY_PASSWORD: COSIGN_KEY_PASSWORD });
    const fromFile = await createSigner(undefined, { DCHAIN_SIGNING_KEY_FILE: keyFile, DCHAIN_SIGNING_KEY_PASSWORD: COSIGN_KEY_PASSWORD });
    assert.equal(await fromPem.keyId(), await fromFile.keyId());
  });

  void it('says what is missing: no key at all, the password variable, the PIN variable', async () => {
    await assert.rejects(createSigner(undefined, {}), { code: 'PREREQUISITE_MISSING', message: /DCHAIN_SIGNING_KEY/ });
    await assert.rejects(createSigner({ kind: 'file', path: keyFile, passwordEnv: 'MY_PW' }, {}), { code: 'BAD_INPUT', message: /set MY_PW/ });
    await assert.rejects(createSigner({ kind: 'file', path: keyFile, passwordEnv: 'MY_PW' }, { MY_PW: 'wrong' }), {
      code: 'BAD_INPUT',
      message: /wrong password/,
    });
    await assert.rejects(createSigner({ kind: 'file', path: join(dir, 'absent.key'), passwordEnv: 'MY_PW' }, {}), {
      code: 'BAD_INPUT',
      message: /cannot be read: ENOENT/,
    });
    const pkcs11 = { kind: 'pkcs11' as const, module: '/nonexistent.so', token: 't', label: 'k', pinEnv: 'HSM_PIN' };
    await assert.rejects(createSigner(pkcs11, {}), { code: 'PREREQUISITE_MISSING', message: /HSM_PIN/ });
  });

  void it('the configuration section holds variable names, never secrets, and defaults to nothing', () => {
    assert.deepEqual(signingSchema.parse({}), { trustedKeys: [], annotations: {} });
    assert.equal(signingSchema.safeParse({ key: { kind: 'file', path: 'k', password: 'x' } }).success, false);
    assert.equal(signingSchema.safeParse({ key: { kind: 'pkcs11', module: 'm', token: 't', label: 'l', pinEnv: 'lower-case' } }).success, false);
  });
});
