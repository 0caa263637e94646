import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cosignTag, digestOf, fallbackReferrersTag, MEDIA_TYPES, RegistryClient } from '../../../src/registry';
import { copyImage } from '../../../src/registry/copy';
import { requireTool } from '../../../workers/local/tools';
import { busyboxSpec, inspectRaw, pushImage, writeOciImage, writeOciIndex } from '../../support/images';
import { testDataDir, useRegistry } from '../../support/services';
import { COSIGN_KEY_SIGN_FLAGS } from '../../support/cosign';

const run = promisify(execFile);
const cosignBin = requireTool('cosign', 'project tool, npm run setup');
const cosignEnv = { ...process.env, COSIGN_PASSWORD: 'test-password', COSIGN_YES: 'true' };
const cosign = (args: string[], cwd: string) => run(cosignBin, args, { cwd, env: cosignEnv, timeout: 60_000 });
const insecure = ['--allow-http-registry', '--allow-insecure-registry'];

void describe('copyImage between two docker-registry instances', async () => {
  const dir = testDataDir();
  const [src, dst] = await Promise.all([useRegistry({ name: 'src', dataDir: dir }), useRegistry({ name: 'dst', dataDir: dir })]);
  const source = new RegistryClient({ url: src.url });
  const target = new RegistryClient({ url: dst.url });
  after(() => Promise.all([source.close(), target.close()]));
  const same = async (repoA: string, repoB: string, ref: string) =>
    assert.equal(await inspectRaw(`${dst.host}/${repoB}@${ref}`), await inspectRaw(`${src.host}/${repoA}@${ref}`));

  void it('copies a single-platform image byte for byte, then finds nothing left to do', async () => {
    const image = await writeOciImage(join(dir, 'single'), busyboxSpec(), 'v1');
    await pushImage(join(dir, 'single'), 'v1', `${src.host}/team/single:v1`);
    const progress: number[] = [];
    const first = await copyImage({
      source,
      sourceRepo: 'team/single',
      target,
      targetRepo: 'mirror/team/single',
      digest: image.digest,
      tags: ['v1'],
      onProgress: (p) => progress.push(p.blobsDone),
    });
    assert.equal(first.blobsCopied, 2);
    assert.equal(first.manifestsPushed, 1);
    assert.ok(progress.includes(2));
    await same('team/single', 'mirror/team/single', image.digest);
    assert.equal((await target.headManifest('mirror/team/single', 'v1'))?.digest, image.digest);
    const again = await copyImage({ source, sourceRepo: 'team/single', target, targetRepo: 'mirror/team/single', digest: image.digest });
    assert.deepEqual([again.blobsCopied, again.manifestsPushed, again.manifestsPresent], [0, 0, 1]);
  });

  void it('copies every platform of an index, sharing blobs once', async () => {
    const shared = { path: 'shared.bin', content: randomBytes(50_000) };
    const index = await writeOciIndex(join(dir, 'multi'), [
      { layers: [[shared], [{ path: 'arch', content: 'amd64' }]], architecture: 'amd64' },
      { layers: [[shared], [{ path: 'arch', content: 'arm64' }]], architecture: 'arm64' },
      { layers: [[shared], [{ path: 'arch', content: 's390x' }]], architecture: 's390x' },
    ]);
    await pushImage(join(dir, 'multi'), 'latest', `${src.host}/team/multi:latest`);
    const result = await copyImage({ source, sourceRepo: 'team/multi', target, targetRepo: 'team/multi', digest: index.digest, concurrency: 2 });
    assert.equal(result.manifestsPushed, 4);
    assert.equal(result.blobsCopied, 1 + 3 + 3, 'shared layer once, one arch layer and one config per platform');
    await same('team/multi', 'team/multi', index.digest);
    const { manifest } = await target.getManifest('team/multi', index.digest);
    assert.ok('manifests' in manifest);
    for (const child of manifest.manifests) await same('team/multi', 'team/multi', child.digest);
  });

  void it('copies cosign signatures and attestations, verifiable with cosign on the target, and merges signatures', async () => {
    const image = await writeOciImage(join(dir, 'signed'), busyboxSpec({ user: 'app' }), 'v1');
    await pushImage(join(dir, 'signed'), 'v1', `${src.host}/team/signed:v1`);
    const keys = join(dir, 'keys');
    await run('mkdir', ['-p', join(keys, 'a'), join(keys, 'b')]);
    await cosign(['generate-key-pair'], join(keys, 'a'));
    await cosign(['generate-key-pair'], join(keys, 'b'));
    const srcRef = `${src.host}/team/signed@${image.digest}`;
    await cosign(['sign', '--key', join(keys, 'a', 'cosign.key'), ...COSIGN_KEY_SIGN_FLAGS, ...insecure, srcRef], dir);
    writeFileSync(join(dir, 'predicate.json'), JSON.stringify({ buildType: 'https://example.com/build/v1', builder: { id: 'https://example.com/builder' } }));
    await cosign(
      [
        'attest',
        '--key',
        join(keys, 'a', 'cosign.key'),
        ...COSIGN_KEY_SIGN_FLAGS,
        '--type',
        'slsaprovenance',
        '--predicate',
        join(dir, 'predicate.json'),
        ...insecure,
        srcRef,
      ],
      dir,
    );

    // The target already has the image signed by another key: the copy must keep that signature.
    await copyImage({ source, sourceRepo: 'team/signed', target, targetRepo: 'team/signed', digest: image.digest, artifacts: false });
    const dstRef = `${dst.host}/team/signed@${image.digest}`;
    await cosign(['sign', '--key', join(keys, 'b', 'cosign.key'), ...COSIGN_KEY_SIGN_FLAGS, ...insecure, dstRef], dir);

    const result = await copyImage({ source, sourceRepo: 'team/signed', target, targetRepo: 'team/signed', digest: image.digest });
    assert.deepEqual(result.artifacts.sort(), [cosignTag(image.digest, 'att'), cosignTag(image.digest, 'sig')]);
    const attestation = await source.headManifest('team/signed', cosignTag(image.digest, 'att'));
    assert.ok(attestation);
    await same('team/signed', 'team/signed', attestation.digest);
    assert.equal((await target.headManifest('team/signed', cosignTag(image.digest, 'att')))?.digest, attestation.digest);
    const verify = ['--insecure-ignore-tlog', '--allow-http-registry', '--allow-insecure-registry'];
    for (const key of ['a', 'b']) await cosign(['verify', '--key', join(keys, key, 'cosign.pub'), ...verify, dstRef], dir);
    await cosign(['verify-attestation', '--key', join(keys, 'a', 'cosign.pub'), '--type', 'slsaprovenance', ...verify, dstRef], dir);
    const merged = await target.getManifest('team/signed', cosignTag(image.digest, 'sig'));
    assert.ok('layers' in merged.manifest && merged.manifest.layers.length === 2);
  });

  void it('copies OCI referrers and lists them under the fallback tag on the target', async () => {
    const image = await writeOciImage(join(dir, 'referred'), busyboxSpec(), 'v1');
    await pushImage(join(dir, 'referred'), 'v1', `${src.host}/team/referred:v1`);
    const empty = Buffer.from('{}');
    const payload = Buffer.from(JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5' }));
    await source.uploadBlob('team/referred', digestOf(empty), empty);
    await source.uploadBlob('team/referred', digestOf(payload), payload);
    const artifactType = 'application/vnd.cyclonedx+json';
    const referrer = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        artifactType,
        config: { mediaType: MEDIA_TYPES.ociEmpty, digest: digestOf(empty), size: 2 },
        layers: [{ mediaType: artifactType, digest: digestOf(payload), size: payload.length }],
        subject: { mediaType: MEDIA_TYPES.ociManifest, digest: image.digest, size: image.size },
      }),
    );
    const referrerDigest = await source.putManifest('team/referred', digestOf(referrer), referrer, MEDIA_TYPES.ociManifest);
    const fallback = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociIndex,
        manifests: [{ mediaType: MEDIA_TYPES.ociManifest, digest: referrerDigest, size: referrer.length, artifactType }],
      }),
    );
    await source.putManifest('team/referred', fallbackReferrersTag(image.digest), fallback, MEDIA_TYPES.ociIndex);

    const result = await copyImage({ source, sourceRepo: 'team/referred', target, targetRepo: 'team/referred', digest: image.digest });
    assert.deepEqual(result.artifacts, [referrerDigest]);
    assert.deepEqual(
      (await target.referrers('team/referred', image.digest, artifactType)).map((d) => d.digest),
      [referrerDigest],
    );
    await same('team/referred', 'team/referred', referrerDigest);
  });

  void it('mounts instead of copying when source and target are the same registry', async () => {
    const image = await writeOciImage(join(dir, 'mount'), busyboxSpec(), 'v1');
    await pushImage(join(dir, 'mount'), 'v1', `${src.host}/team/mount:v1`);
    const result = await copyImage({ source, sourceRepo: 'team/mount', target: source, targetRepo: 'eu/team/mount', digest: image.digest });
    assert.deepEqual([result.blobsMounted, result.blobsCopied], [2, 0]);
    assert.equal(await inspectRaw(`${src.host}/eu/team/mount@${image.digest}`), await inspectRaw(`${src.host}/team/mount@${image.digest}`));
  });
});
