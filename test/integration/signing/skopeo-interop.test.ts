import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KeySigner, signImage, verifyImage } from '../../../src/signing';
import { busyboxSpec, writeOciImage } from '../../support/images';
import { testDataDir } from '../../support/services';
import { cosignVerify, dchain, registryWithImage, runTool, SIGSTORE_DISABLED, sigstoreSkopeo, writeKeyPair, writeSkopeoTrust } from './support';

void describe('signatures interoperate with skopeo (sigstore attachments)', async () => {
  const dir = testDataDir('dchain-sign-skopeo-');
  const image = await registryWithImage(dir);
  const skopeo = sigstoreSkopeo();
  const ours = await writeKeyPair(dir, 'ours');
  await signImage(image.client, image.repo, image.digest, await KeySigner.fromFile(ours.keyPath, ours.password));

  const pull = (pubPath: string) => {
    const trust = writeSkopeoTrust(dir, image.host, pubPath);
    return runTool(skopeo, [
      '--policy',
      trust.policy,
      '--registries.d',
      trust.registriesD,
      'copy',
      '--remove-signatures',
      '--src-tls-verify=false',
      `docker://${image.ref}`,
      `oci:${join(dir, 'pulled')}:v1`,
    ]);
  };

  void it('skopeo accepts our signature under a sigstoreSigned policy with our public key', async (t) => {
    const pulled = await pull(ours.pubPath);
    if (SIGSTORE_DISABLED.test(pulled.stderr)) return t.skip(`${skopeo} is built without sigstore support`);
    assert.equal(pulled.code, 0, pulled.stderr);
  });

  void it('skopeo rejects the image when the policy trusts another key', async (t) => {
    const other = await writeKeyPair(dir, 'other');
    const pulled = await pull(other.pubPath);
    if (SIGSTORE_DISABLED.test(pulled.stderr)) return t.skip(`${skopeo} is built without sigstore support`);
    assert.notEqual(pulled.code, 0);
    assert.match(pulled.stderr, /Source image rejected: .*signature verification failed/);
  });

  void it('a key from `dchain keygen` signs with skopeo copy --sign-by-sigstore-private-key, and verifies here and with cosign', async (t) => {
    const prefix = join(dir, 'release');
    const generated = await dchain(['keygen', '--output-key-prefix', prefix, '--password-env', 'RELEASE_KEY_PASSWORD'], { RELEASE_KEY_PASSWORD: 's3cret' });
    assert.equal(generated.code, 0, generated.stderr);
    const passphrase = join(dir, 'passphrase');
    writeFileSync(passphrase, 's3cret');
    const layout = join(dir, 'to-sign');
    const digest = (await writeOciImage(layout, busyboxSpec({ extra: [{ path: 'etc/signed-by', content: 'skopeo' }] }), 'v2')).digest;
    const trust = writeSkopeoTrust(dir, image.host, `${prefix}.pub`);
    const pushed = await runTool(skopeo, [
      '--insecure-policy',
      '--registries.d',
      trust.registriesD,
      'copy',
      '--preserve-digests',
      '--dest-tls-verify=false',
      '--sign-by-sigstore-private-key',
      `${prefix}.key`,
      '--sign-passphrase-file',
      passphrase,
      `oci:${layout}:v2`,
      `docker://${image.host}/${image.repo}:v2`,
    ]);
    if (SIGSTORE_DISABLED.test(pushed.stderr)) return t.skip(`${skopeo} is built without sigstore support`);
    assert.equal(pushed.code, 0, pushed.stderr);

    const report = await verifyImage(image.client, image.repo, digest, [readFileSync(`${prefix}.pub`, 'utf8')]);
    assert.equal(report.signedBy.length, 1);
    assert.deepEqual(report.failures, []);
    const verified = await cosignVerify(`${prefix}.pub`, `${image.host}/${image.repo}@${digest}`);
    assert.equal(verified.code, 0, verified.stderr);

    const cli = await dchain(['verify', '--plain-http', '--json', '--key', `${prefix}.pub`, `${image.host}/${image.repo}:v2`]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual((JSON.parse(cli.stdout) as { signedBy: string[] }).signedBy, report.signedBy);
    const refused = await dchain(['verify', '--plain-http', '--key', ours.pubPath, `${image.host}/${image.repo}@${digest}`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /VERIFICATION_FAILED: no valid signature by a trusted key/);
  });
});
