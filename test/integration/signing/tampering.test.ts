import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeySigner, signImage, attestImage, verifyImage, type VerificationReport } from '../../../src/signing';
import {
  attachmentLayers,
  attachmentManifest,
  attachmentTag,
  OCI_MANIFEST_MEDIA_TYPE,
  SIGNATURE_ANNOTATION,
  sha256Digest,
} from '../../../src/signing/cosign-layout';
import { testDataDir } from '../../support/services';
import { cosignVerify, pushOtherImage, registryWithImage, type SigningFixture, writeKeyPair } from './support';

/** Rewrites an image's attachment manifest through `edit`, as an attacker with push rights could. */
async function tamper(
  image: SigningFixture,
  kind: 'sig' | 'att',
  edit: (layers: NonNullable<ReturnType<typeof attachmentLayers>>, blob: (digest: string) => Promise<Buffer>) => Promise<void>,
  digest = image.digest,
): Promise<void> {
  const tag = attachmentTag(digest, kind);
  const layers = attachmentLayers((await image.client.getManifest(image.repo, tag)).bytes)!;
  await edit(layers, (d) => image.client.getBlob(image.repo, d));
  const { manifest, config, configDigest } = attachmentManifest(layers);
  await image.client.uploadBlob(image.repo, configDigest, config);
  await image.client.putManifest(image.repo, tag, manifest, OCI_MANIFEST_MEDIA_TYPE);
}

async function putBlob(image: SigningFixture, data: Buffer): Promise<string> {
  const digest = sha256Digest(data);
  await image.client.uploadBlob(image.repo, digest, data, data.length);
  return digest;
}

const codes = (report: VerificationReport) => report.failures.map((f) => f.code);

void describe('tampered signatures fail verification with the right reason', async () => {
  const dir = testDataDir('dchain-sign-tamper-');
  const image = await registryWithImage(dir);
  const key = await writeKeyPair(dir, 'trusted');
  const signer = await KeySigner.fromFile(key.keyPath, key.password);
  const trusted = [key.publicKeyPem];

  void it('no signature at all', async () => {
    const report = await verifyImage(image.client, image.repo, image.digest, trusted);
    assert.deepEqual(report.signedBy, []);
    assert.deepEqual(codes(report), ['NO_SIGNATURES']);
  });

  void it('a changed payload byte', async () => {
    const digest = await pushOtherImage(image, dir, 'payload-byte');
    await signImage(image.client, image.repo, digest, signer, { annotations: { tier: 'prod' } });
    await tamper(
      image,
      'sig',
      async (layers, blob) => {
        const altered = Buffer.from((await blob(layers[0]!.digest)).toString().replace('"prod"', '"prox"'));
        layers[0] = { ...layers[0]!, digest: await putBlob(image, altered), size: altered.length };
      },
      digest,
    );
    const report = await verifyImage(image.client, image.repo, digest, trusted);
    assert.deepEqual(report.signedBy, []);
    assert.deepEqual(codes(report), ['UNTRUSTED_SIGNATURE']);
    assert.notEqual((await cosignVerify(key.pubPath, `${image.host}/${image.repo}@${digest}`)).code, 0, 'cosign agrees');
  });

  void it('a valid signature moved to another digest', async () => {
    const other = await pushOtherImage(image, dir, 'moved');
    await signImage(image.client, image.repo, other, signer);
    const moved = await image.client.getManifest(image.repo, attachmentTag(other, 'sig'));
    // Same repository: the payload and config blobs are already there, only the tag is forged.
    await image.client.putManifest(image.repo, attachmentTag(image.digest, 'sig'), moved.bytes, OCI_MANIFEST_MEDIA_TYPE);
    const report = await verifyImage(image.client, image.repo, image.digest, trusted);
    assert.deepEqual(report.signedBy, []);
    assert.deepEqual(codes(report), ['DIGEST_MISMATCH']);
    assert.match(report.failures[0]!.reason, new RegExp(`for ${other}, not ${image.digest}`));
  });

  void it('a signature by another key', async () => {
    const digest = await pushOtherImage(image, dir, 'other-key');
    const other = await writeKeyPair(dir, 'untrusted');
    await signImage(image.client, image.repo, digest, await KeySigner.fromFile(other.keyPath, other.password));
    const report = await verifyImage(image.client, image.repo, digest, trusted);
    assert.deepEqual(report.signedBy, []);
    assert.deepEqual(codes(report), ['UNTRUSTED_SIGNATURE']);
  });

  void it('a stripped signature annotation', async () => {
    const digest = await pushOtherImage(image, dir, 'stripped');
    await signImage(image.client, image.repo, digest, signer);
    await tamper(
      image,
      'sig',
      async (layers) => {
        layers[0] = { ...layers[0]!, annotations: {} };
      },
      digest,
    );
    const report = await verifyImage(image.client, image.repo, digest, trusted);
    assert.deepEqual(codes(report), ['SIGNATURE_MISSING']);
  });

  void it('one good and one forged signature: the good one counts, the forged one is reported', async () => {
    const digest = await pushOtherImage(image, dir, 'mixed');
    const result = await signImage(image.client, image.repo, digest, signer);
    await tamper(
      image,
      'sig',
      async (layers) => {
        layers.push({ ...layers[0]!, annotations: { [SIGNATURE_ANNOTATION]: Buffer.from('not a DER signature').toString('base64') } });
      },
      digest,
    );
    const report = await verifyImage(image.client, image.repo, digest, trusted);
    assert.deepEqual(report.signedBy, [result.keyId]);
    assert.deepEqual(codes(report), ['UNTRUSTED_SIGNATURE']);
  });

  void it('a .sig tag that holds something else is reported, and signing refuses to overwrite it', async () => {
    const digest = await pushOtherImage(image, dir, 'squatted');
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }));
    await image.client.putManifest(image.repo, attachmentTag(digest, 'sig'), index, 'application/vnd.oci.image.index.v1+json');
    const report = await verifyImage(image.client, image.repo, digest, trusted);
    assert.deepEqual(codes(report), ['MALFORMED']);
    assert.match(report.failures[0]!.reason, /not a signature manifest/);
    await assert.rejects(signImage(image.client, image.repo, digest, signer), { code: 'REGISTRY_ERROR', retryable: false });
  });

  void it('attestations: altered statement, malformed envelope, other subject, wrong annotation', async () => {
    const digest = await pushOtherImage(image, dir, 'attest');
    const other = await pushOtherImage(image, dir, 'attest-other');
    await attestImage(image.client, image.repo, digest, signer, 'https://example.com/a/v1', { n: 1 });
    await attestImage(image.client, image.repo, digest, signer, 'https://example.com/b/v1', { n: 2 });
    await attestImage(image.client, image.repo, digest, signer, 'https://example.com/c/v1', { n: 3 });
    await attestImage(image.client, image.repo, other, signer, 'https://example.com/d/v1', { n: 4 });
    const foreign = attachmentLayers((await image.client.getManifest(image.repo, attachmentTag(other, 'att'))).bytes)![0]!;
    await tamper(
      image,
      'att',
      async (layers, blob) => {
        const envelope = JSON.parse((await blob(layers[0]!.digest)).toString()) as { payload: string };
        envelope.payload = Buffer.from(Buffer.from(envelope.payload, 'base64').toString().replace('"n":1', '"n":9')).toString('base64');
        const altered = Buffer.from(JSON.stringify(envelope));
        layers[0] = { ...layers[0]!, digest: await putBlob(image, altered), size: altered.length };
        const junk = Buffer.from('{"payloadType":"application/vnd.in-toto+json"}');
        layers[1] = { ...layers[1]!, digest: await putBlob(image, junk), size: junk.length };
        layers[2] = { ...layers[2]!, annotations: { ...layers[2]!.annotations, predicateType: 'https://example.com/forged/v1' } };
        layers.push(foreign);
      },
      digest,
    );
    const report = await verifyImage(image.client, image.repo, digest, trusted);
    assert.deepEqual(
      report.attestations.map((a) => [a.predicateType, a.valid, a.code]),
      [
        ['https://example.com/a/v1', false, 'UNTRUSTED_SIGNATURE'],
        ['https://example.com/b/v1', false, 'MALFORMED'],
        ['https://example.com/c/v1', false, 'MALFORMED'],
        ['https://example.com/d/v1', false, 'DIGEST_MISMATCH'],
      ],
    );
  });
});
