/**
 * Admission decisions per second and p99 latency with a warm cache: a Pod with an app image
 * (signed with cosign, allowed by its gate decision) and an allowlisted sidecar, POSTed over HTTPS
 * by autocannon (in a worker thread) to the webhook. The peer is the floor: a Fastify HTTPS server
 * that parses the same AdmissionReview and answers "allowed" without checking anything.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { Client } from 'undici';
import { parseConfig } from '../src/config';
import { createLogger } from '../src/log';
import { admissionDepsFromConfig, buildAdmissionServer, DecisionStore, evaluatePolicy, imageFactsSchema, parsePolicy } from '../src/policy';
import { generateKeyPair } from '../src/signing';
import { cosignSign, pod, postReview, pushSmallImage, review, selfSignedCert } from '../test/integration/policy/admission-support';
import { startRedis } from '../workers/local/redis-server';
import { startRegistry } from '../workers/local/registry-server';
import { type BenchContext, type BenchRow, median, percentile } from './harness';

/** The part of autocannon's API used here (the package ships no type declarations). */
type Autocannon = (options: {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  duration: number;
  workers: number;
  tlsOptions: { ca: string };
}) => Promise<{ requests: { average: number }; latency: { p99: number }; errors: number; non2xx: number }>;
const autocannon = createRequire(__filename)('autocannon') as Autocannon;

interface Load {
  requestsPerSecond: number;
  p99Ms: number;
  errors: number;
}

/** 16 connections saturate the server: throughput, and latency with queueing. */
async function load(url: string, ca: string, body: string, seconds: number, connections = 16): Promise<Load> {
  const result = await autocannon({
    url: `${url}/validate`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: seconds,
    workers: 1,
    tlsOptions: { ca },
  });
  return { requestsPerSecond: result.requests.average, p99Ms: result.latency.p99, errors: result.errors + result.non2xx };
}

/** p50 and p99 of `count` sequential requests on one keep-alive connection, in ms with µs resolution (autocannon rounds to 1 ms). */
async function sequentialLatency(url: string, ca: string, body: string, count: number): Promise<{ p50: number; p99: number }> {
  const client = new Client(url, { connect: { ca } });
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const start = process.hrtime.bigint();
      const res = await client.request({ path: '/validate', method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  } finally {
    await client.close();
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

export default async function admissionBench(ctx: BenchContext): Promise<BenchRow[]> {
  const [registry, redisServer, tls, keys] = await Promise.all([
    startRegistry({ name: 'bench', dataDir: join(ctx.workDir, 'registry') }),
    startRedis({ dataDir: join(ctx.workDir, 'redis') }),
    selfSignedCert(ctx.workDir),
    generateKeyPair('bench-password'),
  ]);
  const redis = new Redis(redisServer.url);
  const closers: Array<() => Promise<unknown>> = [async () => redis.disconnect(), () => registry.process.stop(), () => redisServer.process.stop()];
  try {
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
    await webhook.listen({ host: '127.0.0.1', port: 0 });
    closers.unshift(() => webhook.close());
    const floor = Fastify({ https: { cert: tls.cert, key: tls.key }, logger: false });
    floor.post('/validate', async (request) => ({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: (request.body as { request: { uid: string } }).request.uid, allowed: true },
    }));
    await floor.listen({ host: '127.0.0.1', port: 0 });
    closers.unshift(() => floor.close());
    const urlOf = (server: { server: { address(): unknown } }) => `https://127.0.0.1:${(server.server.address() as { port: number }).port}`;

    const body = JSON.stringify(
      review(
        'bench-uid',
        'Pod',
        'shop',
        pod([
          { name: 'app', image },
          { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.22.0' },
        ]),
      ),
    );
    const first = await postReview(urlOf(webhook), tls.cert, undefined, body);
    if (first.body.response?.allowed !== true) throw new Error(`the benchmark pod is not admitted: ${JSON.stringify(first.body)}`);
    const warm = await load(urlOf(webhook), tls.cert, body, 3); // JIT and TLS session warm-up
    if (warm.errors) throw new Error(`webhook answered ${warm.errors} requests with errors during warm-up`);
    const seconds = ctx.quick ? 2 : 5;
    const runs = ctx.quick ? 1 : 3;
    const ours: Load[] = [];
    const peer: Load[] = [];
    const oursSerial: Array<{ p50: number; p99: number }> = [];
    const peerSerial: Array<{ p50: number; p99: number }> = [];
    const sequential = ctx.quick ? 500 : 3000;
    for (let i = 0; i < runs; i++) {
      ours.push(await load(urlOf(webhook), tls.cert, body, seconds));
      peer.push(await load(urlOf(floor), tls.cert, body, seconds));
      oursSerial.push(await sequentialLatency(urlOf(webhook), tls.cert, body, sequential));
      peerSerial.push(await sequentialLatency(urlOf(floor), tls.cert, body, sequential));
    }
    ctx.log(`ours: ${JSON.stringify(ours)} floor: ${JSON.stringify(peer)}`);
    ctx.log(`one connection, ours: ${JSON.stringify(oursSerial)} floor: ${JSON.stringify(peerSerial)}`);
    const errors = ours.reduce((n, l) => n + l.errors, 0);
    return [
      {
        metric: 'admission decisions/s (warm cache, 16 connections)',
        ours: median(ours.map((l) => l.requestsPerSecond)),
        peer: median(peer.map((l) => l.requestsPerSecond)),
        peerName: 'HTTPS echo floor',
        unit: 'req/s',
        runs,
        lowerIsBetter: false,
        note: errors ? `${errors} errors` : 'target ≥ 2000/s',
      },
      {
        metric: 'admission p50 latency (warm cache, sequential requests)',
        ours: median(oursSerial.map((l) => l.p50)),
        peer: median(peerSerial.map((l) => l.p50)),
        peerName: 'HTTPS echo floor',
        unit: 'ms',
        runs,
      },
      {
        metric: 'admission p99 latency (warm cache, sequential requests)',
        ours: median(oursSerial.map((l) => l.p99)),
        peer: median(peerSerial.map((l) => l.p99)),
        peerName: 'HTTPS echo floor',
        unit: 'ms',
        runs,
        note: 'target < 10 ms',
      },
      {
        metric: 'admission p99 latency (saturated, 16 connections)',
        ours: median(ours.map((l) => l.p99Ms)),
        peer: median(peer.map((l) => l.p99Ms)),
        peerName: 'HTTPS echo floor',
        unit: 'ms',
        runs,
        note: 'queueing included',
      },
    ];
  } finally {
    for (const close of closers) await close().catch(() => undefined);
  }
}
