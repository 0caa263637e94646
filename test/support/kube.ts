import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChainError } from '../../src/errors';
import { endOfLog, freePort, ManagedProcess, portOpen } from '../../workers/local/managed-process';
import { requireTool } from '../../workers/local/tools';
import type * as Services from './services';

type ServicesModule = typeof Services;

/**
 * A Kubernetes control plane for admission tests: etcd and kube-apiserver on loopback, nothing else
 * (no scheduler, kubelet or controller-manager: admission happens when an object is created). Two
 * users by static token: `admin` (system:masters) and `alice`, a tenant who may create and label
 * namespaces and create workloads, as a namespace owner would. `kubectl` is driven as a user drives it.
 */
export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  server: string;
  kubeconfig: string;
  /** Runs kubectl against the control plane (as admin unless `as` names another user); never throws on a non-zero exit. */
  kubectl(args: string[], options?: { input?: string; as?: 'admin' | 'alice'; timeoutMs?: number }): Promise<KubectlResult>;
  etcd: ManagedProcess;
  apiserver: ManagedProcess;
}

export interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const TOKENS = { admin: 'admin-token-for-tests', alice: 'alice-token-for-tests' } as const;

/** A control plane for one test file: stopped when the file's tests are done. */
export async function useControlPlane(dir: string): Promise<ControlPlane> {
  // Imported here, not at the top: benchmarks start control planes too, outside the test runner.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { onCleanup } = require('./services') as ServicesModule;
  const stops: Array<() => Promise<void>> = [];
  onCleanup(async () => {
    for (const stop of stops.reverse()) await stop();
  });
  return startControlPlane(dir, (stop) => stops.push(stop));
}

/** etcd and kube-apiserver on loopback; `onStop` is given what stops each (the caller runs them, last first). */
export async function startControlPlane(dir: string, onStop: (stop: () => Promise<void>) => void): Promise<ControlPlane> {
  const etcdBin = requireTool('etcd', 'Debian package etcd-server');
  const apiserverBin = requireTool('kube-apiserver', 'built from tools/kube-apiserver by scripts/setup.ts --test');
  const kubectlBin = requireTool('kubectl', 'kubectl from the Kubernetes release');
  mkdirSync(dir, { recursive: true });

  const [clientPort, peerPort, apiPort] = (await distinctPorts(3)) as [number, number, number];
  const etcd = new ManagedProcess({
    name: 'etcd',
    command: etcdBin,
    args: [
      '--name',
      'test',
      '--data-dir',
      join(dir, 'etcd'),
      '--listen-client-urls',
      `http://127.0.0.1:${clientPort}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${clientPort}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-cluster',
      `test=http://127.0.0.1:${peerPort}`,
      '--log-level',
      'warn',
    ],
    logFile: join(dir, 'etcd.log'),
    readyTimeoutMs: 60_000,
    // Serving, not just listening: the API server gives up on an etcd it cannot use within a minute.
    ready: () => etcdHealthy(clientPort),
  });
  await etcd.start();
  onStop(() => etcd.stop(5_000));

  // The service-account token signer (the API server refuses to start without one) and the users' tokens.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(dir, 'tokens.csv'), `${TOKENS.admin},admin,admin,"system:masters"\n${TOKENS.alice},alice,alice,"tenants"\n`);

  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigYaml(server));
  const kubectl: ControlPlane['kubectl'] = (args, options = {}) =>
    runKubectl(kubectlBin, ['--kubeconfig', kubeconfig, '--context', options.as ?? 'admin', ...args], options.input, options.timeoutMs ?? 60_000);

  const apiserver = new ManagedProcess({
    name: 'kube-apiserver',
    command: apiserverBin,
    args: [
      `--etcd-servers=http://127.0.0.1:${clientPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'certs')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--enable-priority-and-fairness=false',
      '--v=1',
    ],
    logFile: join(dir, 'kube-apiserver.log'),
    // A cold start on shared cores runs every post-start hook (RBAC bootstrap, CRDs, APF…): be generous.
    readyTimeoutMs: 180_000,
    ready: async () => (await portOpen(apiPort)) && (await kubectl(['get', '--raw', '/readyz'], { timeoutMs: 10_000 })).stdout.trim() === 'ok',
  });
  try {
    await apiserver.start();
  } catch (err) {
    // The API server's own last lines say what it saw; etcd's state says whether etcd is the reason.
    const etcdState = etcd.running
      ? `etcd is running (healthy: ${String(await etcdHealthy(clientPort))})`
      : `etcd has exited${endOfLog(join(dir, 'etcd.log'))}`;
    throw new ChainError('SERVICE_START_FAILED', `${(err as Error).message}\n${etcdState}`, { cause: err });
  }
  onStop(() => apiserver.stop(5_000));

  // What a tenant may do: create and label namespaces, run workloads in them (but not touch cluster-wide admission).
  await applyOrThrow(kubectl, TENANT_RBAC);
  return { server, kubeconfig, kubectl, etcd, apiserver };
}

/** Whether etcd answers its health endpoint as healthy. */
async function etcdHealthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
    return res.ok && ((await res.json()) as { health?: unknown }).health === 'true';
  } catch {
    return false;
  }
}

/** `kubectl apply -f -` that must succeed. */
export async function applyOrThrow(kubectl: ControlPlane['kubectl'], yaml: string, as: 'admin' | 'alice' = 'admin'): Promise<KubectlResult> {
  const result = await kubectl(['apply', '-f', '-'], { input: yaml, as });
  if (result.code !== 0) throw new Error(`kubectl apply failed (${String(result.code)}): ${result.stderr}\n${yaml}`);
  return result;
}

/** A namespace with its `default` ServiceAccount (no controller-manager creates it here; pods need it). */
export async function createNamespace(cp: ControlPlane, name: string, labels: Record<string, string> = {}): Promise<void> {
  const labelYaml = Object.entries(labels)
    .map(([k, v]) => `\n    ${k}: "${v}"`)
    .join('');
  await applyOrThrow(cp.kubectl, `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  labels:${labelYaml || ' {}'}\n`);
  await applyOrThrow(cp.kubectl, `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: default\n  namespace: ${name}\n`);
}

function runKubectl(bin: string, args: string[], input: string | undefined, timeoutMs: number): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs, env: { ...process.env, KUBECONFIG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => resolve({ code: null, stdout, stderr: `${stderr}${err.message}` }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // kubectl may exit without reading stdin (commands that take none): a write to the closed pipe is not an error here.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

function kubeconfigYaml(server: string): string {
  // The serving certificate is the API server's own self-signed one (--cert-dir); the test trusts it as kubectl's
  // users of a throwaway cluster do. The webhook's TLS, the thing under test, is verified through its caBundle.
  const user = (name: keyof typeof TOKENS) => `- name: ${name}\n  user:\n    token: ${TOKENS[name]}\n`;
  const context = (name: string) => `- name: ${name}\n  context:\n    cluster: test\n    user: ${name}\n`;
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: test\n  cluster:\n    server: ${server}\n    insecure-skip-tls-verify: true`,
    'users:',
    user('admin') + user('alice'),
    'contexts:',
    context('admin') + context('alice'),
    'current-context: admin',
    '',
  ].join('\n');
}

const TENANT_RBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: tenant
rules:
  - apiGroups: [""]
    resources: [namespaces]
    verbs: [create, get, list, patch, update]
  - apiGroups: [""]
    resources: [pods, serviceaccounts, replicationcontrollers]
    verbs: ["*"]
  - apiGroups: [apps, batch]
    resources: ["*"]
    verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: tenants
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: tenant
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: Group
    name: tenants
`;
