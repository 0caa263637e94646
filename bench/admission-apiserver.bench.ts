/**
 * Admission through a real Kubernetes API server (kube-apiserver + etcd on loopback, the shipped
 * ValidatingWebhookConfiguration pointing at our webhook): a Pod with a signed, allowed app image and
 * an allowlisted sidecar created with `dryRun=All` — the API server runs its whole admission chain,
 * calls the webhook, and stores nothing. The peer is the same API server with the webhook
 * configuration removed, alternating in the same run, so the difference is what our webhook adds.
 * Also: `kubectl apply --dry-run=server` of N pods, and the webhook over direct HTTPS beside them
 * (the `admission` bench measures that one against an HTTPS echo floor).
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { parseConfig } from '../src/config';
import { createLogger } from '../src/log';
import { admissionDepsFromConfig, buildAdmissionServer, DecisionStore, evaluatePolicy, imageFactsSchema, parsePolicy } from '../src/policy';
import { generateKeyPair } from '../src/signing';
import { cosignSign, pod, pushSmallImage, review, selfSignedCert } from '../test/integration/policy/admission-support';
import { applyAdmissionManifests, workload } from '../test/integration/policy/kube-support';
import { createNamespace, startControlPlane, TOKENS } from '../test/support/kube';
import { startRedis } from '../workers/local/redis-server';
import { startRegistry } from '../workers/local/registry-server';
import { type BenchContext, type BenchRow, median, percentile } from './harness';

type Autocannon = (options: {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  duration: number;
  workers: number;
  tlsOptions: { ca?: string; rejectUnauthorized?: boolean };
}) => Promise<{ requests: { average: number }; latency: { p99: number }; errors: number; non2xx: number }>;
const autocannon = createRequire(__filename)('autocannon') as Autocannon;

const NS = 'shop';
const CONNECTIONS = 16;

export default async function admissionApiServerBench(ctx: BenchContext): Promise<BenchRow[]> {
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const [registry, redisServer, tls, keys] = await Promise.all([
      startRegistry({ name: 'bench', dataDir: join(ctx.workDir, 'registry') }),
      startRedis({ dataDir: join(ctx.workDir, 'redis') }),
      selfSignedCert(ctx.workDir),
      generateKeyPair('bench-password'),
    ]);
    stops.push(
      () => registry.process.stop(),
      () => redisServer.process.stop(),
    );
    const redis = new Redis(redisServer.url);
    stops.push(async () => redis.disconnect());

    // The image the pods run: pushed, signed by cosign, allowed by its gate decision (as in the admission bench).
    const digest = await pushSmallImage(ctx.workDir, registry.host, 'team/app', '1.0');
    const image = `${registry.host}/team/app@${digest}`;
    writeFileSync(join(ctx.workDir, 'release.key'), keys.privateKeyPem, { mode: 0o600 });
    await cosignSign(join(ctx.workDir, 'release.key'), 'bench-password', image);
    writeFileSync(join(ctx.workDir, 'tls.crt'), tls.cert);
    writeFileSync(join(ctx.workDir, 'tls.key'), tls.key);
    const policy = parsePolicy({
      apiVersion: 'policy.delivery-chain.dev/v1',
      kind: 'ImagePolicy',
      metadata: { name: 'bench' },
      trustedKeys: [{ id: 'release', publicKey: keys.publicKeyPem }],
      sidecars: [{ image: 'docker.io/istio/proxyv2', reason: 'istio' }],
      rules: [
        {
          name: 'baseline',
          vulnerabilities: { maxSeverity: { fixable: 'MEDIUM' } },
          hygiene: { requireNonRootUser: true },
          provenance: { requireSignatures: { keys: ['release'] } },
        },
      ],
    });
    const facts = imageFactsSchema.parse({
      registry: registry.host,
      repository: 'team/app',
      digest,
      scannedAt: new Date().toISOString(),
      findings: [],
      vulnerabilityData: { version: 'bench', records: 1, ageSeconds: 0, problems: [] },
      signatures: [{ keyId: 'release' }],
      hygiene: { user: '1000', sizeBytes: 100, layerCount: 1, efficiency: 1 },
    });
    await new DecisionStore(redis).record(facts, evaluatePolicy(facts, policy, new Date()));
    const config = parseConfig({
      registries: [{ name: 'source', url: registry.url }],
      sync: { targets: [] },
      policy: { admission: { tlsCertFile: join(ctx.workDir, 'tls.crt'), tlsKeyFile: join(ctx.workDir, 'tls.key') } },
    });
    const webhook = await buildAdmissionServer(admissionDepsFromConfig(config, redis, createLogger({ level: 'silent' }), policy));
    let calls = 0;
    webhook.addHook('onResponse', async () => {
      calls++;
    });
    await webhook.listen({ host: '127.0.0.1', port: 0 });
    stops.unshift(() => webhook.close());
    const webhookUrl = `https://127.0.0.1:${(webhook.server.address() as { port: number }).port}`;

    ctx.log('starting etcd and kube-apiserver');
    const cp = await startControlPlane(join(ctx.workDir, 'kube'), (stop) => stops.unshift(stop));
    await createNamespace(cp, NS);
    const podJson = JSON.stringify(
      workload('Pod', 'web', NS, [
        { name: 'app', image },
        { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.22.0' },
      ]),
    );
    const createUrl = `${cp.server}/api/v1/namespaces/${NS}/pods?dryRun=All`;
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.admin}` };
    // The API server's serving certificate is its own self-signed one (as kubectl's config in the tests trusts it).
    const dispatcher = new Agent({ connect: { rejectUnauthorized: false }, connections: CONNECTIONS });
    stops.unshift(() => dispatcher.close());
    const create = async (body = podJson) => {
      const res = await request(createUrl, { method: 'POST', headers, body, dispatcher });
      const text = await res.body.text();
      return { status: res.statusCode, text };
    };

    // The webhook on (the shipped configuration) or off; each waits until the API server's admission chain follows.
    const enable = async () => {
      await applyAdmissionManifests(cp, webhookUrl, tls);
      await until('the webhook to be called', async () => {
        const before = calls;
        const res = await create();
        if (res.status !== 201) throw new Error(`the benchmark pod is not admitted: ${res.status} ${res.text}`);
        return calls > before;
      });
    };
    const disable = async () => {
      const res = await cp.kubectl(['delete', 'validatingwebhookconfiguration', 'dchain-admission', '--ignore-not-found']);
      if (res.code !== 0) throw new Error(`kubectl delete failed: ${res.stderr}`);
      await until('the webhook to be left out', async () => {
        const before = calls;
        await create();
        return calls === before;
      });
    };

    const sequential = async (count: number) => {
      const times: number[] = [];
      for (let i = 0; i < count; i++) {
        const start = process.hrtime.bigint();
        const res = await create();
        if (res.status !== 201) throw new Error(`HTTP ${res.status}: ${res.text}`);
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
      return { p50: percentile(times, 50), p99: percentile(times, 99) };
    };
    const saturated = async (seconds: number) => {
      const result = await autocannon({
        url: createUrl,
        method: 'POST',
        headers,
        body: podJson,
        connections: CONNECTIONS,
        duration: seconds,
        workers: 1,
        tlsOptions: { rejectUnauthorized: false },
      });
      return { requestsPerSecond: result.requests.average, p99Ms: result.latency.p99, errors: result.errors + result.non2xx };
    };
    // `kubectl apply --dry-run=server` of a List of n pods (kubectl reads each object, then creates it): ms per pod.
    const kubectlApply = async (n: number) => {
      const list = {
        apiVersion: 'v1',
        kind: 'List',
        items: Array.from({ length: n }, (_, i) =>
          workload('Pod', `web-${i}`, NS, [
            { name: 'app', image },
            { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.22.0' },
          ]),
        ),
      };
      const start = process.hrtime.bigint();
      const res = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: JSON.stringify(list), timeoutMs: 300_000 });
      if (res.code !== 0) throw new Error(`kubectl apply failed: ${res.stderr}`);
      return Number(process.hrtime.bigint() - start) / 1e6 / n;
    };
    // The webhook alone, over direct HTTPS (one keep-alive connection), for the same pod.
    const direct = async (count: number) => {
      const body = JSON.stringify(
        review(
          'bench-uid',
          'Pod',
          NS,
          pod([
            { name: 'app', image },
            { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.22.0' },
          ]),
        ),
      );
      const agent = new Agent({ connect: { ca: tls.cert } });
      const times: number[] = [];
      try {
        for (let i = 0; i < count; i++) {
          const start = process.hrtime.bigint();
          const res = await request(`${webhookUrl}/validate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, dispatcher: agent });
          const answer = (await res.body.json()) as { response?: { allowed?: boolean } };
          if (answer.response?.allowed !== true) throw new Error(`the webhook refused the benchmark pod: ${JSON.stringify(answer)}`);
          times.push(Number(process.hrtime.bigint() - start) / 1e6);
        }
      } finally {
        await agent.close();
      }
      return { p50: percentile(times, 50), p99: percentile(times, 99) };
    };

    const runs = ctx.quick ? 1 : 3;
    const count = ctx.quick ? 200 : 1000;
    const seconds = ctx.quick ? 3 : 5;
    const pods = ctx.quick ? 20 : 100;
    const ours = {
      seq: [] as Array<{ p50: number; p99: number }>,
      load: [] as Array<{ requestsPerSecond: number; p99Ms: number; errors: number }>,
      kubectl: [] as number[],
    };
    const peer = {
      seq: [] as Array<{ p50: number; p99: number }>,
      load: [] as Array<{ requestsPerSecond: number; p99Ms: number; errors: number }>,
      kubectl: [] as number[],
    };
    const directRuns: Array<{ p50: number; p99: number }> = [];
    for (let i = 0; i < runs; i++) {
      await enable();
      await sequential(50); // warm-up: JIT, TLS sessions, the webhook's caches
      ours.seq.push(await sequential(count));
      ours.load.push(await saturated(seconds));
      ours.kubectl.push(await kubectlApply(pods));
      directRuns.push(await direct(count));
      await disable();
      await sequential(50);
      peer.seq.push(await sequential(count));
      peer.load.push(await saturated(seconds));
      peer.kubectl.push(await kubectlApply(pods));
    }
    ctx.log(`with the webhook: ${JSON.stringify(ours)}`);
    ctx.log(`without: ${JSON.stringify(peer)}`);
    ctx.log(`direct HTTPS: ${JSON.stringify(directRuns)}`);
    const errors = ours.load.reduce((n, l) => n + l.errors, 0);
    const peerName = 'same API server, no webhook';
    return [
      {
        metric: `pod create through kube-apiserver (dryRun), p50, sequential`,
        ours: median(ours.seq.map((s) => s.p50)),
        peer: median(peer.seq.map((s) => s.p50)),
        peerName,
        unit: 'ms',
        runs,
      },
      {
        metric: `pod create through kube-apiserver (dryRun), p99, sequential`,
        ours: median(ours.seq.map((s) => s.p99)),
        peer: median(peer.seq.map((s) => s.p99)),
        peerName,
        unit: 'ms',
        runs,
        note: `webhook direct HTTPS p99 ${median(directRuns.map((d) => d.p99)).toFixed(2)} ms (p50 ${median(directRuns.map((d) => d.p50)).toFixed(2)} ms)`,
      },
      {
        metric: `pod creates/s through kube-apiserver (dryRun, ${CONNECTIONS} connections)`,
        ours: median(ours.load.map((l) => l.requestsPerSecond)),
        peer: median(peer.load.map((l) => l.requestsPerSecond)),
        peerName,
        unit: 'req/s',
        runs,
        lowerIsBetter: false,
        note: errors ? `${errors} errors` : '',
      },
      {
        metric: `p99 through kube-apiserver (saturated, ${CONNECTIONS} connections)`,
        ours: median(ours.load.map((l) => l.p99Ms)),
        peer: median(peer.load.map((l) => l.p99Ms)),
        peerName,
        unit: 'ms',
        runs,
      },
      { metric: `kubectl apply --dry-run=server of ${pods} pods, per pod`, ours: median(ours.kubectl), peer: median(peer.kubectl), peerName, unit: 'ms', runs },
    ];
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(200);
  }
}
