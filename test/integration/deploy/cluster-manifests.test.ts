/**
 * The cluster topology's Kubernetes manifests (deploy/kubernetes/cluster/) against a real API server:
 * kube-apiserver on etcd validates every object server-side (schemas, defaulting, field validation),
 * which a client-side dry run does not.
 */
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { createNamespace, useControlPlane, type ControlPlane } from '../../support/kube';
import { testDataDir } from '../../support/services';

const MANIFESTS = resolve(__dirname, '../../../deploy/kubernetes/cluster');

void describe('cluster manifests on kube-apiserver', { timeout: 300_000 }, () => {
  let cp: ControlPlane;
  before(
    async () => {
      cp = await useControlPlane(join(testDataDir('dchain-kube-deploy-'), 'kube'));
      await createNamespace(cp, 'dchain-system');
    },
    { timeout: 240_000 },
  );

  void it('pass kubectl apply --dry-run=client and --dry-run=server with strict field validation', async () => {
    for (const mode of ['client', 'server']) {
      const result = await cp.kubectl(['apply', `--dry-run=${mode}`, '--validate=strict', '-f', MANIFESTS]);
      assert.equal(result.code, 0, `--dry-run=${mode}: ${result.stderr}`);
      for (const kind of ['deployment.apps/dchain-api', 'poddisruptionbudget.policy/dchain-api', 'configmap/', 'secret/']) {
        assert.match(result.stdout, new RegExp(kind.replace(/[./]/g, '\\$&')), `--dry-run=${mode} output names ${kind}: ${result.stdout}`);
      }
    }
  });

  void it('refuses a manifest the server would reject (the check can fail)', async () => {
    const broken =
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: broken\n  namespace: dchain-system\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers: []\n';
    const result = await cp.kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], { input: broken });
    assert.notEqual(result.code, 0, result.stdout);
    assert.match(result.stderr, /selector|containers/i);
  });
});
