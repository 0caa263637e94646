/**
 * The control API against real services for one test file: Temporal dev server, Redis, a source
 * and a mirror docker-registry (the mirror restartable on its port), the project's Temporal
 * workers, the queue worker and the API process's Fastify server with `/v1`. Every answer the
 * tests read is checked against the served OpenAPI document (ajv, JSON Schema 2020-12).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { type Redis } from 'ioredis';
import { type PolicyDocument } from '../../../src/access/policy';
import { TokenStore } from '../../../src/access/tokens';
import { parseConfig } from '../../../src/config/load';
import { type Config } from '../../../src/config/schema';
import { producerConnection, workerConnection } from '../../../src/ingest';
import { createLogger } from '../../../src/log/logger';
import { generateKeyPair } from '../../../src/signing';
import { buildApi } from '../../../workers/api';
import { startIngestWorker } from '../../../workers/ingest-worker';
import { freePort } from '../../../workers/local/managed-process';
import { type LocalRegistry, startRegistry } from '../../../workers/local/registry-server';
import { useChainWorker, type RunningChainWorker } from '../../support/chain-worker';
import { onCleanup, testDataDir, useRedis, useRegistry, useTemporal } from '../../support/services';

const KEY_PASSWORD = 'control-api-test-key-password';

export interface ApiAnswer {
  status: number;
  body: unknown;
  contentType: string;
  requestId: string;
}

export interface ApiHarness {
  config: Config;
  configFile: string;
  /** Runs `dchain -c <configFile> …args` (the CLI as users run it); never throws on a non-zero exit. */
  dchain(args: string[], env?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }>;
  apiUrl: string;
  redis: Redis;
  tokens: TokenStore;
  chain: RunningChainWorker;
  sourceHost: string;
  mirror(): LocalRegistry;
  stopMirror(): Promise<void>;
  startMirror(): Promise<void>;
  /** Notifications the subscriber received, by event and digest. */
  notes: Array<{ event: string; digest: string }>;
  token(name: string, policies: PolicyDocument[], expiresAt?: string): Promise<string>;
  /** A request; the answer is checked against the OpenAPI document (route by its Fastify path). */
  call(method: string, route: string, path: string, options?: { token?: string; body?: unknown }): Promise<ApiAnswer>;
  /** Routes (method + path) whose answers were checked. */
  checked: Set<string>;
  document: Record<string, unknown>;
}

export async function startApiHarness(name: string): Promise<ApiHarness> {
  const dataDir = testDataDir();
  const mirrorPort = await freePort();
  const [temporal, redisServer, source] = await Promise.all([useTemporal(dataDir), useRedis(dataDir), useRegistry({ name: 'source', dataDir })]);
  let mirror = await startRegistry({ name: 'mirror', dataDir, port: mirrorPort });
  onCleanup(() => mirror.process.stop());
  const keys = await generateKeyPair(KEY_PASSWORD);
  writeFileSync(join(dataDir, 'cosign.key'), keys.privateKeyPem, { mode: 0o600 });
  process.env.CONTROL_API_TEST_KEY_PASSWORD = KEY_PASSWORD;
  const notes: Array<{ event: string; digest: string }> = [];
  const subscriber = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const parsed = JSON.parse(body) as { event: string; digest: string };
      notes.push({ event: parsed.event, digest: parsed.digest });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((done) => subscriber.listen(0, '127.0.0.1', done));
  onCleanup(() => new Promise<void>((done) => subscriber.close(() => done())));
  mkdirSync(join(dataDir, 'data'), { recursive: true });
  const raw = {
    dataDir: join(dataDir, 'data'),
    temporal: { address: temporal.address, taskQueue: `${name}-${process.pid}` },
    redis: { url: redisServer.url },
    registries: [
      { name: 'source', url: source.url },
      { name: 'mirror', url: mirror.url },
    ],
    sources: [{ name: 'source', registry: 'source', secret: 'webhook-secret-0123456789' }],
    sync: { targets: [{ registry: 'mirror', repositoryPrefix: 'eu/' }] },
    scan: { osv: { directory: resolve(__dirname, '../../fixtures/osv') } },
    signing: { key: { kind: 'file', path: join(dataDir, 'cosign.key'), passwordEnv: 'CONTROL_API_TEST_KEY_PASSWORD' } },
    distribute: {
      promoteTags: ['stable'],
      subscribers: [{ name: 'audit', url: `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}/`, secret: 'subscriber-secret-0123456789' }],
    },
    ingest: { retryFailed: { backoff: '1h' } },
    audit: { file: join(dataDir, 'audit.jsonl') },
  };
  const config = parseConfig(raw);
  // The same configuration for `dchain -c <file>` subprocesses.
  const configFile = join(dataDir, 'config.json');
  writeFileSync(configFile, JSON.stringify(raw));
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', pretty: false });
  const chain = await useChainWorker(config, { logger });
  const redis = producerConnection(redisServer.url);
  redis.on('error', () => undefined);
  onCleanup(() => redis.disconnect());
  const ingestRedis = workerConnection(redisServer.url);
  ingestRedis.on('error', () => undefined);
  const ingest = startIngestWorker({ config, logger, client: chain.client, redis: ingestRedis });
  onCleanup(async () => {
    await ingest.close();
    ingestRedis.disconnect();
  });
  const api = await buildApi({ config, logger, redis, plugins: [], temporal: chain.client });
  const apiPort = await freePort();
  await api.app.listen({ host: '127.0.0.1', port: apiPort });
  onCleanup(() => api.app.close());
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const document = (await (await fetch(`${apiUrl}/v1/openapi.json`)).json()) as Record<string, unknown>;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const tokens = new TokenStore(redis);
  const checked = new Set<string>();

  const check = (method: string, route: string, answer: ApiAnswer) => {
    const path = route.replace(/:([A-Za-z]+)/g, '{$1}');
    const operation = (document.paths as Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>>)[
      path
    ]?.[method.toLowerCase()];
    assert.ok(operation, `${method} ${path} is in the OpenAPI document`);
    const response = operation.responses[String(answer.status)];
    assert.ok(response, `${method} ${path}: status ${answer.status} is documented (${JSON.stringify(answer.body)})`);
    const media = answer.contentType.split(';')[0]!.trim();
    const content = response.content?.[media];
    assert.ok(content, `${method} ${path} ${answer.status}: content type ${media} is documented`);
    const validate = ajv.compile(content.schema);
    assert.ok(validate(answer.body), `${method} ${path} ${answer.status} matches the document: ${ajv.errorsText(validate.errors)}`);
    checked.add(`${method} ${path}`);
  };

  return {
    config,
    configFile,
    dchain: (args, env = {}) =>
      new Promise((done) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', resolve(__dirname, '../../../cli/dchain.ts'), '-c', configFile, ...args],
          { env: { ...process.env, DCHAIN_API_URL: apiUrl, ...env }, timeout: 120_000 },
          (err, stdout, stderr) => done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
        );
      }),
    apiUrl,
    redis,
    tokens,
    chain,
    sourceHost: source.host,
    notes,
    checked,
    document,
    mirror: () => mirror,
    stopMirror: () => mirror.process.stop(),
    async startMirror() {
      mirror = await startRegistry({ name: 'mirror', dataDir, port: mirrorPort });
    },
    async token(tokenName, policies, expiresAt) {
      return (await tokens.create({ name: tokenName, policies, ...(expiresAt ? { expiresAt } : {}) })).secret;
    },
    async call(method, route, path, options = {}) {
      const res = await fetch(`${apiUrl}${path}`, {
        method,
        headers: {
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      });
      const contentType = res.headers.get('content-type') ?? '';
      const text = await res.text();
      const body = contentType.includes('json') && !contentType.includes('jsonl') ? (JSON.parse(text) as unknown) : text;
      const answer = { status: res.status, body, contentType, requestId: res.headers.get('x-request-id') ?? '' };
      check(method, route, answer);
      return answer;
    },
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
