import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { parseConfig } from '../../../src/config/load';
import { checkDeadlineOf } from '../../../src/config/sections/admission-deadline';
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
    const kindOf: Record<string, string> = {
      pods: 'Pod',
      deployments: 'Deployment',
      statefulsets: 'StatefulSet',
      daemonsets: 'DaemonSet',
      replicasets: 'ReplicaSet',
      jobs: 'Job',
      cronjobs: 'CronJob',
      replicationcontrollers: 'ReplicationController',
    };
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

  void it('answer within the webhook timeout: the check deadline comes from the same timeoutSeconds and is shorter', () => {
    const [configMap] = docs('admission-config.yaml');
    const config = parseConfig(YAML.parse(configMap?.data['config.yaml'] as string), 'admission-config.yaml');
    const [webhookConfig] = docs('admission-webhook.yaml');
    const timeoutSeconds = webhookConfig?.webhooks[0].timeoutSeconds as number;
    assert.equal(config.policy.admission.timeoutSeconds, timeoutSeconds);
    assert.equal(parseConfig({}).policy.admission.timeoutSeconds, timeoutSeconds, 'the default must match the shipped manifest');
    assert.ok(checkDeadlineOf(config.policy.admission) < timeoutSeconds * 1000);
    assert.throws(
      () => parseConfig({ policy: { admission: { timeoutSeconds: 5, checkDeadlineMs: 5000 } } }),
      /checkDeadlineMs must be shorter than timeoutSeconds/,
    );
  });

  void it('let only cluster admins exempt a namespace (a ValidatingAdmissionPolicy guards the skip label)', () => {
    const [policy, binding] = docs('admission-exemptions.yaml');
    assert.equal(policy?.kind, 'ValidatingAdmissionPolicy');
    assert.equal(binding?.spec.policyName, policy?.metadata.name);
    assert.deepEqual(binding?.spec.validationActions, ['Deny']);
    const [webhookConfig] = docs('admission-webhook.yaml');
    const selector = JSON.stringify(webhookConfig?.webhooks[0].namespaceSelector);
    assert.ok(selector.includes('dchain.dev/admission'));
    assert.ok(JSON.stringify(policy?.spec).includes('dchain.dev/admission'));
  });
});
