import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/load';
import { ChainError } from '../../../src/errors/chain-error';
import { createEventFilter, parseDelivery } from '../../../src/ingest';
import { type ImagePushed } from '../../../src/chain';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'registry-events');
const DIGEST = 'sha256:c8faf9f7274ab9e18454695eee03561dcdab1f26326ac9f89963360901d2b810';
// 2026-11-22T21:42:49Z, the time of the captured distribution push.
const PUSHED_AT_UNIX = 1795383769;

const config = parseConfig({
  registries: [{ name: 'source', url: 'http://127.0.0.1:5000' }],
  sources: (['distribution', 'harbor', 'acr', 'generic'] as const).map((format) => ({
    name: format,
    registry: 'source',
    format,
    secret: 'a-secret-of-16-chars',
  })),
  sync: { targets: [] },
});

function ingest(format: 'distribution' | 'harbor' | 'acr' | 'generic', body: unknown, contentType = 'application/json'): ImagePushed[] {
  const source = config.sources.find((s) => s.name === format);
  if (!source) throw new Error(format);
  const filter = createEventFilter(source, config.ingest);
  return parseDelivery(format, contentType, Buffer.from(JSON.stringify(body))).flatMap((n) => {
    const v = filter(n);
    return 'accept' in v ? [v.accept] : [];
  });
}

/** The fields every format must agree on; the push time to the second (Harbor and ACR send seconds). */
function essence(e: ImagePushed) {
  return { registry: e.registry, repository: e.repository, digest: e.digest, tags: e.tags, pushedAt: e.pushedAt.slice(0, 19) };
}

const capture = JSON.parse(readFileSync(join(FIXTURES, 'manifest-push-oci.json'), 'utf8')) as { body: unknown; headers: Record<string, string> };
const harborResources = {
  resources: [{ digest: DIGEST, tag: 'v1', resource_url: 'harbor.example.com/demo/app:v1' }],
  repository: { date_created: PUSHED_AT_UNIX, name: 'app', namespace: 'demo', repo_full_name: 'demo/app', repo_type: 'private' },
};

void describe('webhook formats', () => {
  const [reference] = ingest('distribution', capture.body, capture.headers['content-type']);

  void it('parses the captured distribution push into an ImagePushed', () => {
    assert.deepEqual(reference, {
      registry: 'source',
      repository: 'demo/app',
      digest: DIGEST,
      tags: ['v1'],
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      pushedAt: '2026-11-22T21:42:49.126Z',
      source: 'distribution',
      deliveryId: 'd154ad3a-6003-411b-9800-89f0757e5c12',
    });
  });

  void it('accepts the v2 (distribution 3.x) content type with the same envelope', () => {
    const [event] = ingest('distribution', capture.body, 'application/vnd.docker.distribution.events.v2+json; charset=utf-8');
    assert.deepEqual(event, reference);
  });

  void it('parses a Harbor default payload to the same event', () => {
    const events = ingest('harbor', { type: 'PUSH_ARTIFACT', occur_at: PUSHED_AT_UNIX, operator: 'admin', event_data: harborResources });
    assert.equal(events.length, 1);
    assert.deepEqual(essence(events[0] as ImagePushed), essence(reference as ImagePushed));
  });

  void it('parses a Harbor CloudEvents payload to the same event, with its id for deduplication', () => {
    const events = ingest(
      'harbor',
      {
        specversion: '1.0',
        requestid: 'r-1',
        id: '4b4d6a2e-3c8a-4f8e-9d4b-2b2e1d0c9f31',
        source: '/projects/1/webhook/policies/3',
        type: 'harbor.artifact.pushed',
        datacontenttype: 'application/json',
        time: '2026-11-22T21:42:49Z',
        data: harborResources,
        operator: 'admin',
      },
      'application/cloudevents+json',
    );
    assert.deepEqual(essence(events[0] as ImagePushed), essence(reference as ImagePushed));
    assert.equal(events[0]?.deliveryId, '4b4d6a2e-3c8a-4f8e-9d4b-2b2e1d0c9f31');
  });

  void it('parses an ACR payload (pushed_at in UTC+8) to the same event', () => {
    const events = ingest('acr', {
      push_data: { digest: DIGEST, pushed_at: '2026-11-23 05:42:49', tag: 'v1' },
      repository: {
        date_created: '2026-10-28 21:31:42',
        name: 'app',
        namespace: 'demo',
        region: 'cn-hangzhou',
        repo_authentication_type: 'NO_CERTIFIED',
        repo_full_name: 'demo/app',
        repo_origin_type: 'NO_CERTIFIED',
        repo_type: 'PRIVATE',
      },
    });
    assert.deepEqual(essence(events[0] as ImagePushed), essence(reference as ImagePushed));
  });

  void it('parses the generic form to the same event', () => {
    const events = ingest('generic', { registry: '127.0.0.1:5000', repository: 'demo/app', digest: DIGEST, tag: 'v1', pushedAt: '2026-11-22T21:42:49Z' });
    assert.deepEqual(essence(events[0] as ImagePushed), essence(reference as ImagePushed));
  });

  void it('does not start chains for Harbor pulls and deletes', () => {
    assert.deepEqual(ingest('harbor', { type: 'PULL_ARTIFACT', occur_at: PUSHED_AT_UNIX, event_data: harborResources }), []);
    assert.deepEqual(ingest('harbor', { specversion: '1.0', id: 'x', type: 'harbor.artifact.deleted', data: harborResources }), []);
  });

  void it('names the field of a payload that is not of the source format', () => {
    assert.throws(
      () => ingest('harbor', { type: 'PUSH_ARTIFACT', event_data: { resources: [{ digest: 'md5:abc' }], repository: { repo_full_name: 'a/b' } } }),
      (err: unknown) => ChainError.is(err, 'BAD_INPUT') && /event_data\.resources\.0\.digest/.test(err.message),
    );
    assert.throws(
      () => ingest('acr', { push_data: {} }),
      (err: unknown) => ChainError.is(err, 'BAD_INPUT') && /not a acr webhook payload/.test(err.message),
    );
    assert.throws(
      () => ingest('generic', { registry: 'r', repository: 'a', digest: DIGEST, extra: 1 }),
      (err: unknown) => ChainError.is(err, 'BAD_INPUT') && /extra/.test(err.message),
    );
  });
});
