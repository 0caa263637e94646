import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { parseConfig } from '../../../src/config/load';
import { isCheckedKind } from '../../../src/policy/admission/pod-images';
import { policySchema } from '../../../src/policy/policy-schema';

const dir = resolve(__dirname, '../../../deploy/kubernetes');
const docs = (file: string) => YAML.parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => d.toJS() as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any

void describe('example Kubernetes manifests', () => {
  void it('carry a valid configuration and policy', () => {
    const [configMap] = docs('admission-config.yaml');
    const config = parseConfig(YAML.parse(configMap?.data['config.yaml'] as string), 'admission-config.yaml');
    assert.equal(config.policy.admission.port, 8443);
    assert.equal(config.policy.file, '/etc/dchain/policy.yaml');
    assert.equal(policySchema.safeParse(YAML.parse(configMap?.data['policy.yaml'] as string)).success, true);
  });

  void it('send every kind the webhook checks, as AdmissionReview v1, to the Service that fronts the Deployment', () => {
    const [webhookConfig] = docs('admission-webhook.yaml');
    const webhook = webhookConfig?.webhooks[0];
    assert.deepEqual(webhook.admissionReviewVersions, ['v1']);
    assert.equal(webhook.sideEffects, 'None');
    assert.ok(webhook.timeoutSeconds <= 10);
    const resources = (webhook.rules as Array<{ resources: string[] }>).flatMap((r) => r.resources);
    const kindOf: Record<string, string> = { pods: 'Pod', deployments: 'Deployment', statefulsets: 'StatefulSet', daemonsets: 'DaemonSet', replicasets: 'ReplicaSet', jobs: 'Job', cronjobs: 'CronJob' };
    for (const [resource, kind] of Object.entries(kindOf)) {
      assert.ok(resources.includes(resource), `${resource} is not sent to the webhook`);
      assert.ok(isCheckedKind(kind), `${kind} is sent but not checked`);
    }
    const [service] = docs('admission-service.yaml');
    assert.equal(webhook.clientConfig.service.name, service?.metadata.name);
    const [deployment] = docs('admission-deployment.yaml');
    assert.deepEqual(deployment?.spec.template.metadata.labels['app.kubernetes.io/name'], service?.spec.selector['app.kubernetes.io/name']);
    assert.equal(deployment?.spec.template.spec.containers[0].ports[0].containerPort, 8443);
  });
});
