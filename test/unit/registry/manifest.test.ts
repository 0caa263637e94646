import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ChainError } from '../../../src/errors/chain-error';
import { blobsOf, childManifestsOf, MEDIA_TYPES, parseManifest } from '../../../src/registry';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const desc = (mediaType: string, c: string, size = 10) => ({ mediaType, digest: d(c), size });
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

void it('parses the four manifest media types', () => {
  const image = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: desc(MEDIA_TYPES.ociConfig, 'a'),
    layers: [desc(MEDIA_TYPES.ociLayerGzip, 'b')],
  };
  assert.deepEqual(
    blobsOf(parseManifest(json(image)).manifest).map((b) => b.digest),
    [d('a'), d('b')],
  );
  const docker = { ...image, mediaType: MEDIA_TYPES.dockerManifest };
  assert.equal(parseManifest(json(docker)).mediaType, MEDIA_TYPES.dockerManifest);
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: [{ ...desc(MEDIA_TYPES.ociManifest, 'c'), platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } }],
  };
  assert.deepEqual(childManifestsOf(parseManifest(json(index)).manifest)[0]?.platform, { architecture: 'arm64', os: 'linux', variant: 'v8' });
  const list = { ...index, mediaType: MEDIA_TYPES.dockerManifestList };
  assert.equal(parseManifest(json(list)).mediaType, MEDIA_TYPES.dockerManifestList);
});

void it('takes the media type from the Content-Type or the shape when the document omits it', () => {
  const bare = { schemaVersion: 2, manifests: [] };
  assert.equal(parseManifest(json(bare)).mediaType, MEDIA_TYPES.ociIndex);
  const image = { schemaVersion: 2, config: desc(MEDIA_TYPES.ociConfig, 'a'), layers: [] };
  assert.equal(parseManifest(json(image), `${MEDIA_TYPES.ociManifest}; charset=utf-8`).mediaType, MEDIA_TYPES.ociManifest);
});

void it('refuses unknown media types and schema 1 as UNSUPPORTED_MEDIA_TYPE, non-retryable', () => {
  for (const doc of [
    { schemaVersion: 2, mediaType: 'application/vnd.example+json' },
    { schemaVersion: 1, mediaType: MEDIA_TYPES.dockerManifest },
  ]) {
    assert.throws(
      () => parseManifest(json(doc)),
      (err) => ChainError.is(err, 'UNSUPPORTED_MEDIA_TYPE') && !err.retryable,
    );
  }
});

void it('refuses invalid JSON and invalid documents with a message naming the problem', () => {
  assert.throws(() => parseManifest(Buffer.from('{')), /not valid JSON/);
  const noSize = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config: { mediaType: MEDIA_TYPES.ociConfig, digest: d('a') }, layers: [] };
  assert.throws(
    () => parseManifest(json(noSize)),
    (err) => ChainError.is(err, 'BAD_INPUT') && /config\.size/.test(err.message),
  );
});
