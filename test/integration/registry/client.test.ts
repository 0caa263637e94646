import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { ChainError } from '../../../src/errors/chain-error';
import { cosignTag, digestOf, MEDIA_TYPES, RegistryClient } from '../../../src/registry';
import { busyboxSpec, inspectRaw, pushImage, writeOciImage, writeOciIndex } from '../../support/images';
import { testDataDir, useRegistry } from '../../support/services';

// Services are started in the suite body so their `after` hooks stop them when the suite ends.
void describe('RegistryClient against docker-registry', async () => {
  const dir = testDataDir();
  const registry = await useRegistry();
  const host = registry.host;
  const client = new RegistryClient({ url: registry.url });
  after(() => client.close());
  const imageDigest = (await writeOciImage(join(dir, 'image'), busyboxSpec({ user: 'app' }), 'v1')).digest;
  await pushImage(join(dir, 'image'), 'v1', `${host}/app/busybox:v1`);
  const indexDigest = (
    await writeOciIndex(join(dir, 'index'), [
      { layers: [[{ path: 'a.txt', content: 'amd64' }]], architecture: 'amd64' },
      { layers: [[{ path: 'a.txt', content: 'arm64' }]], architecture: 'arm64' },
    ])
  ).digest;
  await pushImage(join(dir, 'index'), 'latest', `${host}/app/multi:latest`);

  void it('passes the API version check', async () => {
    await client.ping();
  });

  void it('reads a manifest by tag and by digest, verified and parsed, byte-identical to skopeo', async () => {
    const byTag = await client.getManifest('app/busybox', 'v1');
    assert.equal(byTag.digest, imageDigest);
    assert.equal(byTag.mediaType, MEDIA_TYPES.ociManifest);
    assert.equal(byTag.bytes.toString(), await inspectRaw(`${host}/app/busybox:v1`));
    const byDigest = await client.getManifest('app/busybox', imageDigest);
    assert.deepEqual(byDigest.bytes, byTag.bytes);
    assert.ok('layers' in byDigest.manifest && byDigest.manifest.layers.length === 1);
    const head = await client.headManifest('app/busybox', 'v1');
    assert.deepEqual(head, { digest: imageDigest, mediaType: MEDIA_TYPES.ociManifest, size: byTag.bytes.length });
    assert.equal(await client.headManifest('app/busybox', 'missing'), undefined);
  });

  void it('reads an index and its platform manifests', async () => {
    const { manifest, mediaType, digest } = await client.getManifest('app/multi', 'latest');
    assert.equal(digest, indexDigest);
    assert.equal(mediaType, MEDIA_TYPES.ociIndex);
    assert.ok('manifests' in manifest);
    assert.deepEqual(
      manifest.manifests.map((m) => m.platform?.architecture),
      ['amd64', 'arm64'],
    );
    for (const child of manifest.manifests) assert.equal((await client.getManifest('app/multi', child.digest)).digest, child.digest);
  });

  void it('streams, checks, uploads (monolithic and chunked) and mounts blobs', async () => {
    const { manifest } = await client.getManifest('app/busybox', 'v1');
    assert.ok('layers' in manifest);
    const layer = manifest.layers[0]!;
    const bytes = await client.getBlob('app/busybox', layer.digest);
    assert.equal(bytes.length, layer.size);
    const chunks: Buffer[] = [];
    for await (const c of await client.blobStream('app/busybox', layer.digest)) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), bytes);

    const data = randomBytes(300_000);
    const digest = digestOf(data);
    assert.equal(await client.hasBlob('other/repo', digest), false);
    await client.uploadBlob('other/repo', digest, data);
    assert.equal(await client.hasBlob('other/repo', digest), true);

    const chunked = randomBytes(250_000);
    const chunkedDigest = digestOf(chunked);
    await client.uploadBlob('other/repo', chunkedDigest, () => Readable.from([chunked.subarray(0, 1000), chunked.subarray(1000)]), undefined, {
      chunkSizeBytes: 64 * 1024,
    });
    assert.deepEqual(await client.getBlob('other/repo', chunkedDigest), chunked);

    assert.equal(await client.mountBlob('third/repo', digest, 'other/repo'), true);
    assert.equal(await client.hasBlob('third/repo', digest), true);
    assert.equal(await client.mountBlob('third/repo', digestOf(randomBytes(8)), 'other/repo'), false);
  });

  void it('refuses a wrong digest on upload and a too large blob on read', async () => {
    const data = randomBytes(1000);
    await assert.rejects(client.uploadBlob('other/repo', digestOf(Buffer.from('something else')), data), (err) => ChainError.is(err, 'DIGEST_MISMATCH'));
    const { manifest } = await client.getManifest('app/busybox', 'v1');
    assert.ok('layers' in manifest);
    await assert.rejects(client.getBlob('app/busybox', manifest.layers[0]!.digest, { maxBytes: 100 }), (err) => ChainError.is(err, 'TOO_LARGE'));
  });

  void it('pushes a manifest and lists tags and catalog', async () => {
    const { bytes, mediaType } = await client.getManifest('app/busybox', 'v1');
    const { manifest } = await client.getManifest('app/busybox', 'v1');
    assert.ok('layers' in manifest);
    for (const blob of [manifest.config, ...manifest.layers]) assert.equal(await client.mountBlob('copy/busybox', blob.digest, 'app/busybox'), true);
    assert.equal(await client.putManifest('copy/busybox', 'v2', bytes, mediaType), imageDigest);
    assert.equal(await client.putManifest('copy/busybox', cosignTag(imageDigest, 'sig').replace('.sig', '.x'), bytes, mediaType), imageDigest);
    assert.deepEqual((await client.listTags('copy/busybox')).sort(), [`sha256-${imageDigest.slice(7)}.x`, 'v2']);
    const catalog = await client.catalog();
    for (const repo of ['app/busybox', 'app/multi', 'copy/busybox', 'other/repo']) assert.ok(catalog.includes(repo), repo);
  });

  void it('follows Link pagination of tag lists and the catalog', async () => {
    const paged = new RegistryClient({ url: registry.url, pageSize: 2 });
    after(() => paged.close());
    const { bytes, mediaType } = await client.getManifest('app/busybox', 'v1');
    const tags = ['a', 'b', 'c', 'd', 'e'];
    for (const tag of tags) await client.putManifest('app/busybox', tag, bytes, mediaType);
    assert.deepEqual((await paged.listTags('app/busybox')).sort(), [...tags, 'v1'].sort());
    assert.deepEqual((await paged.catalog()).sort(), (await client.catalog()).sort());
    assert.ok((await paged.catalog()).length > 2);
  });

  void it('answers missing things with NOT_FOUND and the fallback referrers with []', async () => {
    await assert.rejects(client.getManifest('app/busybox', 'nope'), (err) => ChainError.is(err, 'NOT_FOUND'));
    await assert.rejects(client.getBlob('app/busybox', digestOf(Buffer.from('x'))), (err) => ChainError.is(err, 'NOT_FOUND'));
    assert.deepEqual(await client.referrers('app/busybox', imageDigest), []);
  });

  void it('asks a registry without the referrers API for it once, then reads the fallback tag', async () => {
    const fresh = new RegistryClient({ url: registry.url });
    const asked: string[] = [];
    const onRequest = (message: unknown) => {
      const { request } = message as { request: { path: string } };
      if (request.path.includes('/referrers/')) asked.push(request.path);
    };
    diagnostics.subscribe('undici:request:create', onRequest);
    try {
      assert.deepEqual(await fresh.referrers('app/busybox', imageDigest), []);
      assert.deepEqual(await fresh.referrers('app/multi', indexDigest), []);
    } finally {
      diagnostics.unsubscribe('undici:request:create', onRequest);
      await fresh.close();
    }
    assert.equal(asked.length, 1, asked.join(', '));
  });
});
