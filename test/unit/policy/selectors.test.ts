import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { podImages } from '../../../src/policy/admission/pod-images';
import { globToRegExp } from '../../../src/policy/patterns';
import { runsAsRoot } from '../../../src/policy/rules/hygiene';
import { withoutTagOrDigest } from '../../../src/policy/rules/provenance';
import { matchSidecar } from '../../../src/policy/sidecars';
import { parseSize } from '../../../src/policy/size';
import { TtlCache } from '../../../src/policy/ttl-cache';

void describe('glob patterns', () => {
  const table: Array<[string, string, boolean]> = [
    ['team/*', 'team/app', true],
    ['team/*', 'team/app/sub', false],
    ['team/**', 'team/app/sub', true],
    ['127.0.0.1:*', '127.0.0.1:5000', true],
    ['registry.example.com', 'registryXexample.com', false],
    ['prod-?', 'prod-a', true],
    ['prod-?', 'prod-ab', false],
  ];
  for (const [pattern, value, expected] of table) {
    void it(`${pattern} ${expected ? 'matches' : 'does not match'} ${value}`, () => assert.equal(globToRegExp(pattern).test(value), expected));
  }
});

void describe('sidecar allowlist', () => {
  const pinned = `sha256:${'1'.repeat(64)}`;
  const sidecars = [
    { image: 'docker.io/istio/proxyv2', reason: 'istio' },
    { image: 'ghcr.io/linkerd/*', digest: pinned, reason: 'linkerd' },
  ];
  void it('passes by name, any tag', () => assert.equal(matchSidecar(sidecars, { registry: 'docker.io', repository: 'istio/proxyv2' })?.reason, 'istio'));
  void it('passes a pinned entry only at its digest', () => {
    assert.equal(matchSidecar(sidecars, { registry: 'ghcr.io', repository: 'linkerd/proxy', digest: pinned })?.reason, 'linkerd');
    assert.equal(matchSidecar(sidecars, { registry: 'ghcr.io', repository: 'linkerd/proxy', digest: `sha256:${'2'.repeat(64)}` }), undefined);
    assert.equal(matchSidecar(sidecars, { registry: 'ghcr.io', repository: 'linkerd/proxy' }), undefined);
  });
  void it('does not pass other images', () => assert.equal(matchSidecar(sidecars, { registry: 'docker.io', repository: 'istio/pilot' }), undefined));
});

void describe('small parsers', () => {
  void it('sizes in decimal and binary units', () => {
    assert.equal(parseSize('200MiB'), 200 * 1024 * 1024);
    assert.equal(parseSize('1.5GB'), 1_500_000_000);
    assert.equal(parseSize(42), 42);
    assert.throws(() => parseSize('lots'), /not a size/);
  });
  void it('root users', () => {
    for (const u of [undefined, '', 'root', '0', '0:0', 'root:wheel', '00']) assert.equal(runsAsRoot(u), true, String(u));
    for (const u of ['app', '65532', '1000:0', 'nobody']) assert.equal(runsAsRoot(u), false, u);
  });
  void it('base image names without tag or digest', () => {
    assert.equal(withoutTagOrDigest('127.0.0.1:5000/base/img:1.2@sha256:abc'), '127.0.0.1:5000/base/img');
    assert.equal(withoutTagOrDigest('127.0.0.1:5000/base/img'), '127.0.0.1:5000/base/img');
    assert.equal(withoutTagOrDigest('debian:12'), 'debian');
  });
});

void describe('pod images of every workload kind', () => {
  const spec = {
    initContainers: [{ name: 'init', image: 'a' }],
    containers: [{ name: 'app', image: 'b' }],
    ephemeralContainers: [{ name: 'debug', image: 'c' }],
  };
  const expected = [
    { container: 'initContainers[init]', image: 'a' },
    { container: 'containers[app]', image: 'b' },
    { container: 'ephemeralContainers[debug]', image: 'c' },
  ];
  const objects: Record<string, unknown> = {
    Pod: { spec },
    Deployment: { spec: { template: { spec } } },
    StatefulSet: { spec: { template: { spec } } },
    DaemonSet: { spec: { template: { spec } } },
    ReplicaSet: { spec: { template: { spec } } },
    Job: { spec: { template: { spec } } },
    CronJob: { spec: { jobTemplate: { spec: { template: { spec } } } } },
  };
  for (const [kind, object] of Object.entries(objects)) void it(kind, () => assert.deepEqual(podImages(kind, object), expected));
  void it('names what is wrong with a broken pod spec', () => {
    assert.throws(
      () => podImages('Deployment', { spec: { template: { spec: { containers: [{ name: 'x' }] } } } }),
      /spec\.template\.spec\.containers\.0\.image/,
    );
  });
});

void describe('TtlCache', () => {
  void it('caches, expires, shares loads and drops invalidated loads', async () => {
    let now = 0;
    let loads = 0;
    const cache = new TtlCache<number>({ ttlMs: 100, maxEntries: 2, now: () => now });
    const load = async () => ++loads;
    assert.deepEqual(await Promise.all([cache.get('a', load), cache.get('a', load)]), [1, 1]);
    assert.equal(await cache.get('a', load), 1);
    now = 101;
    assert.equal(await cache.get('a', load), 2);
    let release: (v: number) => void = () => undefined;
    const slow = cache.get('b', () => new Promise<number>((r) => (release = r)));
    cache.invalidate('b');
    release(99);
    assert.equal(await slow, 99);
    assert.equal(await cache.get('b', load), 3, 'a load started before an invalidation is not cached');
    await cache.get('c', load);
    assert.equal(cache.size, 2, 'oldest entry evicted');
  });
});
