import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import YAML from 'yaml';
import { applyOrThrow, type ControlPlane, type KubectlResult } from '../../support/kube';
import type * as Services from '../../support/services';

type ServicesModule = typeof Services;

const MANIFESTS = resolve(__dirname, '../../../deploy/kubernetes');
export const WEBHOOK = 'images.admission.delivery-chain.dev';

/**
 * Applies deploy/kubernetes/ as shipped, with only what a cluster operator fills in changed: the
 * webhook's clientConfig (the test's URL and CA bundle instead of the in-cluster Service) and the TLS
 * secret's data. The namespace goes first so the namespaced objects find it.
 */
export async function applyAdmissionManifests(cp: ControlPlane, webhookUrl: string, tls: { cert: string; key: string }): Promise<void> {
  const files = readdirSync(MANIFESTS)
    .filter((f) => f.endsWith('.yaml'))
    .sort((a, b) => Number(b.includes('namespace')) - Number(a.includes('namespace')) || a.localeCompare(b));
  const docs: Array<Record<string, any>> = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const file of files) {
    for (const doc of YAML.parseAllDocuments(readFileSync(join(MANIFESTS, file), 'utf8'))) {
      const object = doc.toJS() as Record<string, any> | null; // eslint-disable-line @typescript-eslint/no-explicit-any
      if (object) docs.push(object);
    }
  }
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  for (const object of docs) {
    if (object.kind === 'Secret' && object.metadata.name === 'dchain-admission-tls') object.data = { 'tls.crt': b64(tls.cert), 'tls.key': b64(tls.key) };
    if (object.kind === 'ValidatingWebhookConfiguration') {
      for (const webhook of object.webhooks) webhook.clientConfig = { url: `${webhookUrl}/validate`, caBundle: b64(tls.cert) };
    }
  }
  await applyOrThrow(cp.kubectl, docs.map((d) => YAML.stringify(d)).join('---\n'));
}

/** Waits until the API server calls the webhook (its configuration reaches the admission chain asynchronously). */
export async function waitForWebhook(cp: ControlPlane, namespace: string, image: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    const res = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], {
      input: JSON.stringify(workload('Pod', 'probe', namespace, [{ name: 'probe', image }])),
    });
    if (res.stderr.includes(`admission webhook "${WEBHOOK}" denied the request`)) return;
    await delay(200);
  }
  throw new Error('the API server never called the admission webhook');
}

/** Polls `attempt` until `done` holds (for things the API server applies asynchronously), returning the last result. */
export async function eventually(
  attempt: () => Promise<KubectlResult>,
  done: (r: KubectlResult) => boolean,
  tries = 100,
  everyMs = 300,
): Promise<KubectlResult> {
  let last = await attempt();
  for (let i = 1; i < tries && !done(last); i++) {
    await delay(everyMs);
    last = await attempt();
  }
  return last;
}

type Containers = Array<{ name: string; image: string }>;
export type WorkloadKind = 'Pod' | 'Deployment' | 'CronJob' | 'Job' | 'ReplicationController';

/** A workload of `kind` whose pod template runs `containers` (and `initContainers`). */
export function workload(
  kind: WorkloadKind,
  name: string,
  namespace: string,
  containers: Containers,
  initContainers: Containers = [],
): Record<string, unknown> {
  const labels = { app: name };
  const spec = { containers, ...(initContainers.length ? { initContainers } : {}) };
  const metadata = { name, namespace };
  switch (kind) {
    case 'Pod':
      return { apiVersion: 'v1', kind, metadata: { ...metadata, labels }, spec };
    case 'Deployment':
      return { apiVersion: 'apps/v1', kind, metadata, spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec } } };
    case 'ReplicationController':
      return { apiVersion: 'v1', kind, metadata, spec: { replicas: 1, selector: labels, template: { metadata: { labels }, spec } } };
    case 'Job':
      return { apiVersion: 'batch/v1', kind, metadata, spec: { template: { spec: { ...spec, restartPolicy: 'Never' } } } };
    case 'CronJob':
      return {
        apiVersion: 'batch/v1',
        kind,
        metadata,
        spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { spec: { ...spec, restartPolicy: 'OnFailure' } } } } },
      };
  }
}

/** `kubectl apply -f -` of one object, as `as`. */
export function apply(cp: ControlPlane, object: Record<string, unknown>, as: 'admin' | 'alice' = 'admin'): Promise<KubectlResult> {
  return cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(object), as });
}

/** A registry host that accepts connections and never answers: a hung registry. */
export async function useHungServer(): Promise<{ host: string }> {
  // Imported here: benchmarks use this module's helpers outside the test runner.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { onCleanup } = require('../../support/services') as ServicesModule;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onCleanup(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  const address = server.address();
  return { host: `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` };
}
