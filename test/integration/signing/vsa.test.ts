import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parsePolicy } from '../../../src/policy';
import { ImageAdmission, signatureCheckFromVerifier } from '../../../src/policy/admission';
import { attestImage, buildVsa, KeySigner, signImage, verifyImage, VSA_PREDICATE_TYPE } from '../../../src/signing';
import { pushImage } from '../../support/images';
import { testDataDir } from '../../support/services';
import { COSIGN_REGISTRY_FLAGS, cosignPath, registryWithImage, runTool, writeKeyPair } from './support';

/**
 * The chain's verdict as a SLSA verification summary: cosign verifies it by type, and admission in
 * registry-only mode (no Redis) decides from the newest one — a newer FAILED summary revokes at once.
 */
void describe('SLSA verification summaries in the registry', async () => {
  const dir = testDataDir('dchain-vsa-');
  const image = await registryWithImage(dir);
  const keys = await writeKeyPair(dir, 'chain');
  const signer = await KeySigner.fromFile(keys.keyPath, keys.password);
  const policy = parsePolicy({
    apiVersion: 'policy.delivery-chain.dev/v1',
    kind: 'ImagePolicy',
    metadata: { name: 'regional' },
    mode: 'enforce',
    trustedKeys: [{ id: 'chain', publicKey: keys.publicKeyPem }],
    rules: [{ name: 'r' }],
  });
  const host = image.client.host;
  const vsa = (passed: boolean, at: Date) =>
    buildVsa({
      registry: host,
      repository: image.repo,
      digest: image.digest,
      passed,
      policyVersion: policy.version,
      timeVerified: at.toISOString(),
      scanDataVersion: 'osv-test',
    });
  const admission = () =>
    new ImageAdmission({
      policy: () => policy,
      mode: 'registry-only',
      summaryMaxAgeMs: 3_600_000,
      checkSignatures: signatureCheckFromVerifier((img, pems) => verifyImage(image.client, img.repository, img.digest, pems), policy.keys),
      resolveTag: async () => undefined,
    });
  const admit = (a: ImageAdmission) => a.admit({ container: 'containers[web]', image: `${host}/${image.repo}@${image.digest}` }, 'shop');

  void it('cosign verify-attestation --type https://slsa.dev/verification_summary/v1 accepts ours', async () => {
    await signImage(image.client, image.repo, image.digest, signer);
    const added = await attestImage(image.client, image.repo, image.digest, signer, VSA_PREDICATE_TYPE, vsa(true, new Date(Date.now() - 60_000)));
    assert.equal(added.added, true);
    const verified = await runTool(cosignPath(), [
      'verify-attestation',
      '--key',
      keys.pubPath,
      '--type',
      VSA_PREDICATE_TYPE,
      '--insecure-ignore-tlog=true',
      ...COSIGN_REGISTRY_FLAGS,
      image.ref,
    ]);
    assert.equal(verified.code, 0, verified.stderr);
    const envelope = JSON.parse(verified.stdout.trim().split('\n')[0] as string) as { payload: string };
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString()) as {
      predicateType: string;
      predicate: { verificationResult: string; resourceUri: string };
    };
    assert.equal(statement.predicateType, VSA_PREDICATE_TYPE);
    assert.equal(statement.predicate.verificationResult, 'PASSED');
    assert.equal(statement.predicate.resourceUri, `oci://${host}/${image.repo}@${image.digest}`);
  });

  void it('registry-only admission admits on the newest PASSED summary and refuses once a newer FAILED one is attached', async () => {
    const allowed = await admit(admission());
    assert.equal(allowed.allowed, true, allowed.allowed ? '' : allowed.message);
    await attestImage(image.client, image.repo, image.digest, signer, VSA_PREDICATE_TYPE, vsa(false, new Date()));
    const denied = await admit(admission());
    assert.equal(denied.allowed, false);
    assert.match(denied.allowed ? '' : denied.message, /failed verification: its newest summary .* says FAILED/);
  });

  void it('refuses a PASSED summary older than the max age (a revocation in this mode takes effect within it)', async () => {
    const other = await registryWithImage(testDataDir('dchain-vsa-old-'));
    const old = buildVsa({
      registry: other.client.host,
      repository: other.repo,
      digest: other.digest,
      passed: true,
      policyVersion: policy.version,
      timeVerified: new Date(Date.now() - 2 * 3_600_000).toISOString(),
    });
    await signImage(other.client, other.repo, other.digest, signer);
    await attestImage(other.client, other.repo, other.digest, signer, VSA_PREDICATE_TYPE, old);
    const a = new ImageAdmission({
      policy: () => policy,
      mode: 'registry-only',
      summaryMaxAgeMs: 3_600_000,
      checkSignatures: signatureCheckFromVerifier((img, pems) => verifyImage(other.client, img.repository, img.digest, pems), policy.keys),
      resolveTag: async () => undefined,
    });
    const verdict = await a.admit({ container: 'containers[web]', image: `${other.client.host}/${other.repo}@${other.digest}` }, 'shop');
    assert.equal(verdict.allowed, false);
    assert.match(verdict.allowed ? '' : verdict.message, /no recent verification: its newest summary is from/);
  });
  void it('caches summaries by registry, repository, digest and trusted key set: a warm cache gives the cold answer', async () => {
    // The same digest in a second repository, signed with a PASSED summary; the first one's newest says FAILED (above).
    await pushImage(join(dir, 'image'), 'v1', `${host}/team/copy:v1`);
    await signImage(image.client, 'team/copy', image.digest, signer);
    await attestImage(
      image.client,
      'team/copy',
      image.digest,
      signer,
      VSA_PREDICATE_TYPE,
      buildVsa({
        registry: host,
        repository: 'team/copy',
        digest: image.digest,
        passed: true,
        policyVersion: policy.version,
        timeVerified: new Date().toISOString(),
      }),
    );
    const other = await writeKeyPair(dir, 'other');
    const otherPolicy = parsePolicy({
      apiVersion: 'policy.delivery-chain.dev/v1',
      kind: 'ImagePolicy',
      metadata: { name: 'regional' },
      mode: 'enforce',
      trustedKeys: [{ id: 'chain', publicKey: other.publicKeyPem }],
      rules: [{ name: 'r' }],
    });
    let current = policy;
    const make = () =>
      new ImageAdmission({
        policy: () => current,
        mode: 'registry-only',
        summaryMaxAgeMs: 3_600_000,
        // Verified against the keys of the policy in force, as a webhook that reloads its policy would.
        checkSignatures: (img, signal) =>
          signatureCheckFromVerifier((i, pems) => verifyImage(image.client, i.repository, i.digest, pems), current.keys)(img, signal),
        resolveTag: async () => undefined,
      });
    const copy = `${host}/team/copy@${image.digest}`;
    const original = `${host}/${image.repo}@${image.digest}`;
    const verdict = async (a: ImageAdmission, ref: string) => {
      const v = await a.admit({ container: 'containers[web]', image: ref }, 'shop');
      return v.allowed ? 'allowed' : v.message.replace(/^containers\[web\]: /, '').split(':')[0];
    };
    const warm = make();
    const sequence = [copy, original, copy, original];
    const answers = [];
    for (const ref of sequence) answers.push([await verdict(warm, ref), await verdict(make(), ref)]);
    for (const [w, cold] of answers) assert.equal(w, cold);
    assert.deepEqual(
      answers.map(([w]) => w === 'allowed'),
      [true, false, true, false],
    );
    // A different trusted key set never reuses the answer cached under the first.
    current = otherPolicy;
    const rotated = await warm.admit({ container: 'containers[web]', image: copy }, 'shop');
    assert.equal(rotated.allowed, false);
    assert.match(rotated.allowed ? '' : rotated.message, /is not signed by a trusted key/);
  });
});
