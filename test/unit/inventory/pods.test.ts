import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventMessage } from '../../../src/inventory/events';
import { podDigests, podSchema } from '../../../src/inventory/pods';
import { ownerWorkloads } from '../../../src/inventory/store';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;

describe('inventory: pods to digests and workloads', () => {
  it('takes digests from references by digest and from the kubelet’s imageID, not from tags', () => {
    const pod = podSchema.parse({
      metadata: { name: 'p', namespace: 'ns', uid: 'u' },
      spec: {
        containers: [
          { name: 'app', image: `r.example/app@${A}` },
          { name: 'tagged', image: 'r.example/side:1.0' },
        ],
        initContainers: [{ name: 'init', image: `r.example/app@${A}` }],
      },
      status: { containerStatuses: [{ name: 'tagged', imageID: `docker-pullable://r.example/side@${B}` }] },
    });
    assert.deepEqual(
      [...podDigests(pod)],
      [
        [A, ['app', 'init']],
        [B, ['tagged']],
      ],
    );
  });

  it('refuses a pod object without the fields it needs, naming them', () => {
    const parsed = podSchema.safeParse({ metadata: { name: 'p' }, spec: {} });
    assert.equal(parsed.success, false);
    assert.deepEqual(parsed.error?.issues.map((i) => i.path.join('.')).sort(), ['metadata.namespace', 'metadata.uid', 'spec.containers']);
  });

  it('groups pods by owner workload per cluster and namespace', () => {
    const rec = (cluster: string, pod: string, name: string) => ({
      cluster,
      namespace: 'ns',
      pod,
      containers: ['app'],
      owner: { apiVersion: 'apps/v1', kind: 'Deployment', name, uid: name },
      firstSeen: '2026-01-01T00:00:00Z',
      lastSeen: '2026-01-01T00:00:00Z',
    });
    assert.deepEqual(
      ownerWorkloads([rec('a', 'web-1', 'web'), rec('a', 'web-2', 'web'), rec('b', 'web-1', 'web'), rec('a', 'api-1', 'api')]).map(
        (w) => `${w.cluster}/${w.owner.name}:${w.pods.join(',')}`,
      ),
      ['a/web:web-1,web-2', 'b/web:web-1', 'a/api:api-1'],
    );
  });

  it('keeps Event messages within 1 KiB', () => {
    const message = eventMessage({
      digest: A,
      decisionId: 'w',
      findings: Array.from({ length: 100 }, (_, i) => `[vulnerabilities] CRITICAL CVE-2026-${i} in lodash 4.17.11`),
    });
    assert.equal(message.length, 1024);
    assert.match(message, /^image sha256:a{64} is now denied by policy; replace it: \[vulnerabilities\] CRITICAL CVE-2026-0 in lodash/);
    assert.ok(message.endsWith('…'));
  });
});
