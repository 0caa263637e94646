import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { type AddressInfo } from 'node:net';
import { buildAdmissionServer } from '../../../src/policy/admission';
import { applyOrThrow, type ControlPlane, createNamespace } from '../../support/kube';
import { onCleanup } from '../../support/services';

const RBAC = resolve(__dirname, '../../../deploy/kubernetes/inventory-rbac.yaml');

/**
 * The inventory's credentials as a cluster gives them: deploy/kubernetes/inventory-rbac.yaml applied,
 * a token of its service account from the TokenRequest API (what the kubelet would mount), and the
 * API server's self-signed certificate as the CA.
 */
export async function inventoryAccess(cp: ControlPlane, dir: string): Promise<{ server: string; tokenFile: string; caFile: string }> {
  if ((await cp.kubectl(['get', 'namespace', 'dchain-system'])).code !== 0) await createNamespace(cp, 'dchain-system');
  await applyOrThrow(cp.kubectl, readFileSync(RBAC, 'utf8'));
  const token = await cp.kubectl(['create', 'token', 'dchain-inventory', '-n', 'dchain-system', '--duration=2h']);
  if (token.code !== 0) throw new Error(`kubectl create token: ${token.stderr}`);
  const tokenFile = join(dir, 'inventory.token');
  writeFileSync(tokenFile, token.stdout.trim(), { mode: 0o600 });
  return { server: cp.server, tokenFile, caFile: join(dir, 'kube', 'certs', 'apiserver.crt') };
}

/** Creates `object` as admin and returns its uid. */
export async function create(cp: ControlPlane, object: Record<string, unknown>): Promise<string> {
  const res = await cp.kubectl(['create', '-o', 'jsonpath={.metadata.uid}', '-f', '-'], { input: JSON.stringify(object) });
  if (res.code !== 0) throw new Error(`kubectl create: ${res.stderr}\n${JSON.stringify(object)}`);
  return res.stdout.trim();
}

const ref = (apiVersion: string, kind: string, name: string, uid: string) => [{ apiVersion, kind, name, uid, controller: true }];

/**
 * What a controller-manager would create (none runs here): a Deployment, its ReplicaSet and one Pod
 * owned down the chain; a CronJob, a Job and its Pod; and a bare Pod. Pods stay Pending (no kubelet).
 */
export async function deployWorkloads(cp: ControlPlane, ns: string, images: { deployment: string; cronjob: string; pod: string }, suffix = ''): Promise<void> {
  const labels = { app: `web${suffix}` };
  const containers = (image: string) => [{ name: 'app', image }];
  const dep = await create(cp, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `web${suffix}`, namespace: ns },
    spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: containers(images.deployment) } } },
  });
  const rs = await create(cp, {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: `web${suffix}-7d4b9c`, namespace: ns, ownerReferences: ref('apps/v1', 'Deployment', `web${suffix}`, dep) },
    spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: containers(images.deployment) } } },
  });
  await create(cp, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `web${suffix}-7d4b9c-x2x9z`, namespace: ns, labels, ownerReferences: ref('apps/v1', 'ReplicaSet', `web${suffix}-7d4b9c`, rs) },
    spec: { containers: containers(images.deployment) },
  });
  const cj = await create(cp, {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: `nightly${suffix}`, namespace: ns },
    spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { spec: { containers: containers(images.cronjob), restartPolicy: 'OnFailure' } } } } },
  });
  const job = await create(cp, {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: `nightly${suffix}-29410`, namespace: ns, ownerReferences: ref('batch/v1', 'CronJob', `nightly${suffix}`, cj) },
    spec: { template: { spec: { containers: containers(images.cronjob), restartPolicy: 'OnFailure' } } },
  });
  await create(cp, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `nightly${suffix}-29410-abcde`, namespace: ns, ownerReferences: ref('batch/v1', 'Job', `nightly${suffix}-29410`, job) },
    spec: { containers: containers(images.cronjob), restartPolicy: 'OnFailure' },
  });
  await create(cp, { apiVersion: 'v1', kind: 'Pod', metadata: { name: `solo${suffix}`, namespace: ns }, spec: { containers: containers(images.pod) } });
}

/** Polls `check` until it returns a value (not undefined), or throws after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(200);
  }
}

export interface Webhook {
  /** Its https://… base URL. */
  url: string;
  /** AdmissionReviews it has answered so far. */
  calls(): number;
}

/** An admission webhook server on loopback, counting the reviews it answers (to see which one the API server calls). */
export async function webhookServer(deps: Parameters<typeof buildAdmissionServer>[0]): Promise<Webhook> {
  const app = await buildAdmissionServer(deps);
  let calls = 0;
  app.addHook('onResponse', async (req) => {
    if (req.url.startsWith('/validate')) calls++;
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  onCleanup(() => app.close());
  return { url: `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`, calls: () => calls };
}
