import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ChainError } from '../../../src/errors';
import { digestOf, RegistryClient } from '../../../src/registry';
import { copyImage } from '../../../src/registry/copy';
import { startRegistry } from '../../../workers/local/registry-server';
import { pushImage, writeOciImage } from '../../support/images';
import { testDataDir } from '../../support/services';

/** The file the filesystem driver keeps a blob's bytes in. */
const blobFile = (dataDir: string, name: string, digest: string) =>
  join(dataDir, name, 'storage', 'docker', 'registry', 'v2', 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7), 'data');

void describe('blob streaming between registries', async () => {
  const dir = testDataDir();
  // Local processes, not containers: one test corrupts a blob in the source's storage.
  const [src, dst] = await Promise.all([startRegistry({ name: 'src', dataDir: dir }), startRegistry({ name: 'dst', dataDir: dir })]);
  const source = new RegistryClient({ url: src.url });
  const target = new RegistryClient({ url: dst.url, chunkSizeBytes: 1024 * 1024 });
  after(async () => {
    await Promise.all([source.close(), target.close()]);
    await Promise.all([src.process.stop(), dst.process.stop()]);
  });

  void it('copies blobs larger than the chunk size (PATCH path) and ones below it (one PUT), byte for byte', async () => {
    const big = randomBytes(5 * 1024 * 1024 + 17);
    const small = randomBytes(300 * 1024);
    const image = await writeOciImage(join(dir, 'sizes'), { layers: [[{ path: 'big.bin', content: big }], [{ path: 'small.bin', content: small }]] }, 'v1');
    await pushImage(join(dir, 'sizes'), 'v1', `${src.host}/team/sizes:v1`);
    const result = await copyImage({ source, sourceRepo: 'team/sizes', target, targetRepo: 'team/sizes', digest: image.digest, artifacts: false });
    const { manifest } = await source.getManifest('team/sizes', image.digest);
    assert.ok('layers' in manifest);
    assert.equal(result.blobsCopied, manifest.layers.length + 1);
    for (const blob of [manifest.config, ...manifest.layers]) {
      const copied = await target.getBlob('team/sizes', blob.digest);
      assert.equal(digestOf(copied), blob.digest);
    }
    assert.ok(
      manifest.layers.some((l) => l.size > 1024 * 1024),
      'one layer goes in chunks',
    );
  });

  void it('fails closed on a source that serves corrupt bytes: DIGEST_MISMATCH, and the target commits nothing', async () => {
    const image = await writeOciImage(join(dir, 'corrupt'), { layers: [[{ path: 'data.bin', content: randomBytes(2 * 1024 * 1024) }]] }, 'v1');
    await pushImage(join(dir, 'corrupt'), 'v1', `${src.host}/team/corrupt:v1`);
    const { manifest } = await source.getManifest('team/corrupt', image.digest);
    assert.ok('layers' in manifest);
    const layer = manifest.layers[0]!;
    // Same length, different bytes: only the digest can tell.
    const file = blobFile(dir, 'src', layer.digest);
    const bytes = readFileSync(file);
    const middle = bytes.length >> 1;
    bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
    writeFileSync(file, bytes);
    const oneShot = new RegistryClient({ url: dst.url, retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 } });
    after(() => oneShot.close());
    await assert.rejects(
      copyImage({ source, sourceRepo: 'team/corrupt', target: oneShot, targetRepo: 'team/corrupt', digest: image.digest, artifacts: false }),
      (err) => ChainError.is(err, 'DIGEST_MISMATCH') && err.message.includes(layer.digest),
    );
    assert.equal(await target.hasBlob('team/corrupt', layer.digest), false);
    assert.equal(await target.headManifest('team/corrupt', image.digest), undefined);
  });
});
