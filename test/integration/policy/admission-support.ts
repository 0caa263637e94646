import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { RegistryClient } from '../../../src/registry';
import { requireTool } from '../../../workers/local/tools';
import { pushImage, writeOciImage } from '../../support/images';
import { COSIGN_KEY_SIGN_FLAGS } from '../../support/cosign';

const run = promisify(execFile);

/** A self-signed certificate for 127.0.0.1, as a test stands in for the cluster's CA. */
export async function selfSignedCert(dir: string): Promise<{ cert: string; key: string }> {
  const openssl = requireTool('openssl', 'Debian package openssl');
  const certPath = join(dir, 'tls.crt');
  const keyPath = join(dir, 'tls.key');
  await run(openssl, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-subj',
    '/CN=dchain-admission',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}

/** Pushes a one-file image (distinct content = distinct digest) and returns its digest. */
export async function pushSmallImage(dir: string, host: string, repository: string, tag: string): Promise<string> {
  const layout = join(dir, `${repository.replace(/\//g, '_')}-${tag}`);
  await writeOciImage(layout, { layers: [[{ path: 'app.txt', content: `${repository}:${tag}\n` }]], user: '1000' }, tag);
  await pushImage(layout, tag, `${host}/${repository}:${tag}`);
  const head = await new RegistryClient({ url: `http://${host}` }).headManifest(repository, tag);
  if (!head) throw new Error(`pushed ${repository}:${tag} is not in the registry`);
  return head.digest;
}

/** `cosign sign` with a key file, no transparency log, over plain HTTP. */
export async function cosignSign(keyPath: string, password: string, ref: string): Promise<void> {
  const cosign = requireTool('cosign', 'built by npm run setup -- --test (scripts/setup.ts GO_PEERS)');
  await run(cosign, ['sign', '--key', keyPath, ...COSIGN_KEY_SIGN_FLAGS, '-y', '--allow-insecure-registry', '--allow-http-registry', ref], {
    env: { ...process.env, COSIGN_PASSWORD: password },
    timeout: 60_000,
  });
}

type Containers = Array<{ name: string; image: string }>;
const podSpec = (containers: Containers, initContainers: Containers = []) => ({ containers, ...(initContainers.length ? { initContainers } : {}) });

/** AdmissionReview v1 requests shaped as the API server sends them. */
export function review(uid: string, kind: string, namespace: string, object: unknown, extra: Record<string, unknown> = {}) {
  const group = kind === 'Pod' ? '' : kind === 'Job' || kind === 'CronJob' ? 'batch' : 'apps';
  const resource = `${kind.toLowerCase()}s`;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group, version: 'v1', kind },
      resource: { group, version: 'v1', resource },
      requestKind: { group, version: 'v1', kind },
      requestResource: { group, version: 'v1', resource },
      name: 'web',
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'] },
      object,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      ...extra,
    },
  };
}

export const pod = (containers: Containers, initContainers: Containers = []) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } },
  spec: podSpec(containers, initContainers),
});

export const deployment = (containers: Containers) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop' },
  spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: podSpec(containers) } },
});

export const cronJob = (containers: Containers) => ({
  apiVersion: 'batch/v1',
  kind: 'CronJob',
  metadata: { name: 'nightly', namespace: 'shop' },
  spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { spec: { ...podSpec(containers), restartPolicy: 'OnFailure' } } } } },
});

export interface ReviewAnswer {
  status: number;
  body: {
    apiVersion?: string;
    kind?: string;
    response?: { uid: string; allowed: boolean; status?: { code: number; message: string }; warnings?: string[] };
    error?: string;
  };
}

/** POSTs a review over HTTPS, trusting only the test CA. */
export async function postReview(url: string, ca: string, body: unknown, raw?: string): Promise<ReviewAnswer> {
  const dispatcher = new Agent({ connect: { ca } });
  try {
    const res = await request(`${url}/validate`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json' },
      body: raw ?? JSON.stringify(body),
    });
    return { status: res.statusCode, body: (await res.body.json()) as ReviewAnswer['body'] };
  } finally {
    await dispatcher.close();
  }
}
