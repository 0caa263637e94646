import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/load';
import { createEventFilter, isArtifactPush } from '../../../src/ingest';
import { type PushNotice } from '../../../src/ingest/formats/push-notice';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const base: PushNotice = { action: 'push', target: 'manifest', repository: 'team/app', digest: DIGEST, tags: ['v1'], pushedAt: '2026-01-01T00:00:00.000Z' };

function filterFor(source: Record<string, unknown> = {}, ingest: Record<string, unknown> = {}) {
  const config = parseConfig({
    registries: [{ name: 'src', url: 'http://127.0.0.1:5000' }],
    sources: [{ name: 's', registry: 'src', secret: 'a-secret-of-16-chars', ...source }],
    sync: { targets: [] },
    ingest,
  });
  return createEventFilter(config.sources[0] as (typeof config.sources)[0], config.ingest);
}

void describe('event filter', () => {
  const filter = filterFor();

  void it('accepts a tagged manifest push', () => {
    const verdict = filter(base);
    assert.ok('accept' in verdict);
    assert.equal(verdict.accept.registry, 'src');
    assert.equal(verdict.accept.source, 's');
  });

  void it('drops blobs, pulls, mounts, deletes and other actions by reason', () => {
    assert.deepEqual(filter({ ...base, target: 'blob' }), { drop: 'blob' });
    assert.deepEqual(filter({ ...base, action: 'pull' }), { drop: 'pull' });
    assert.deepEqual(filter({ ...base, action: 'mount', target: 'blob' }), { drop: 'mount' });
    assert.deepEqual(filter({ ...base, action: 'delete' }), { drop: 'delete' });
    assert.deepEqual(filter({ ...base, action: 'scanning_completed' }), { drop: 'other-action' });
  });

  void it('recognises signatures, attestations, SBOMs and referrers', () => {
    for (const suffix of ['.sig', '.att', '.sbom', '']) assert.ok(isArtifactPush({ ...base, tags: [`sha256-${'b'.repeat(64)}${suffix}`] }), suffix);
    assert.ok(isArtifactPush({ ...base, hasSubject: true }));
    assert.ok(isArtifactPush({ ...base, artifactType: 'application/vnd.example.sbom' }));
    assert.ok(isArtifactPush({ ...base, referenceMediaTypes: ['application/vnd.oci.empty.v1+json', 'application/vnd.lab.scan-report.v1+json'] }));
    assert.ok(
      isArtifactPush({ ...base, referenceMediaTypes: ['application/vnd.oci.image.config.v1+json', 'application/vnd.dev.cosign.simplesigning.v1+json'] }),
    );
    assert.ok(
      !isArtifactPush({
        ...base,
        tags: ['sha256-not-a-digest'],
        referenceMediaTypes: ['application/vnd.oci.image.config.v1+json', 'application/vnd.oci.image.layer.v1.tar+gzip'],
      }),
    );
  });

  void it('drops pushes by the sync (user agent) and configured actors', () => {
    assert.deepEqual(filter({ ...base, userAgent: 'delivery-chain-sync/0.1.0' }), { drop: 'own-sync' });
    assert.ok('accept' in filter({ ...base, userAgent: 'delivery-chain/0.1.0' }));
    assert.deepEqual(filterFor({}, { ignoreActors: ['replicator'] })({ ...base, actor: 'replicator' }), { drop: 'own-sync' });
  });

  void it('applies include and exclude globs to the repository, exclude winning', () => {
    const scoped = filterFor({ include: ['team/**', 'base/*'], exclude: ['team/tmp-*'] });
    assert.ok('accept' in scoped({ ...base, repository: 'team/sub/app' }));
    assert.ok('accept' in scoped({ ...base, repository: 'base/debian' }));
    assert.deepEqual(scoped({ ...base, repository: 'base/x/y' }), { drop: 'excluded' });
    assert.deepEqual(scoped({ ...base, repository: 'other/app' }), { drop: 'excluded' });
    assert.deepEqual(scoped({ ...base, repository: 'team/tmp-1' }), { drop: 'excluded' });
  });

  void it('drops untagged pushes (index children) unless configured to start them', () => {
    assert.deepEqual(filter({ ...base, tags: [] }), { drop: 'untagged' });
    assert.ok('accept' in filterFor({}, { startUntagged: true })({ ...base, tags: [] }));
  });
});
