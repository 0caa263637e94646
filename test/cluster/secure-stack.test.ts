import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { Redis, type RedisOptions } from 'ioredis';
import { Agent, request } from 'undici';
import { parseConfig } from '../../src/config/load';
import { type Config } from '../../src/config/schema';
import { chainWorkflowId, type ChainStatus } from '../../src/chain';
import { describeRedis, producerConnection, redisTarget } from '../../src/ingest';
import { createLogger } from '../../src/log/logger';
import { DecisionStore } from '../../src/policy';
import { admissionRedis } from '../../src/policy/admission';
import { watchRedis } from '../../src/redis/connection-state';
import { createCodecServer } from '../../src/security/codec-server';
import { ENCRYPTED_ENCODING, KEY_ID_METADATA, PayloadEncryption } from '../../src/security/payload-encryption';
import { RegistryClient } from '../../src/registry';
import { generateKeyPair } from '../../src/signing';
import { withRedis } from '../../cli/context';
import { buildApi } from '../../workers/api';
import { waitForNamespace } from '../../workers/cluster';
import { startIngestWorker } from '../../workers/ingest-worker';
import { freePort } from '../../workers/local/managed-process';
import { requireTool } from '../../workers/local/tools';
import { startPostgres } from '../../workers/local/postgres-server';
import { startRedis } from '../../workers/local/redis-server';
import { setupTemporalSchema, temporalNode } from '../../workers/local/temporal-server';
import { connectionOptions, connectTemporal, type TemporalSession } from '../../workers/temporal/connect';
import { ensureNamespace, ensureSearchAttributes } from '../../workers/temporal/namespace';
import { useChainWorker } from '../support/chain-worker';
import { busyboxSpec, pushImage, writeOciImage } from '../support/images';
import { onCleanup, testDataDir, useRegistry } from '../support/services';
import { createTestPki, type TestCertificate } from '../support/tls-certs';

const execFileAsync = promisify(execFile);
const SECRET = 'secure-stack-webhook-secret';
const SERVER_NAME = 'temporal.dchain.test';

/**
 * The production security settings end to end: Temporal server 1.29.1 (the cluster topology's
 * build, on PostgreSQL) with mutual TLS on its frontend, Redis with TLS only, client certificates
 * required and an ACL user, the webhook API on HTTPS, the payload codec on; certificates made by the
 * test. A registry push notifies the API over HTTPS and the chain runs to the end.
 */
describe('a stack with Redis AUTH+TLS, Temporal mTLS, HTTPS API and the payload codec', () => {
  let config: Config;
  let caFile: string;
  let clientCert: TestCertificate;
  let temporalAddress: string;
  let redisPort: number;
  let apiPort: number;
  let session: TemporalSession;
  let sourceHost: string;
  let mirror: RegistryClient;
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });

  before(async () => {
    const dataDir = testDataDir('dchain-secure-');
    // mkdtemp makes it 0700; as root, PostgreSQL runs as the postgres account and must get through.
    chmodSync(dataDir, 0o755);
    const pki = createTestPki(join(dataDir, 'pki'));
    caFile = pki.caFile;
    const client = pki.issue('dchain-client');
    clientCert = client;
    const temporalCert = pki.issue('temporal', [`DNS:${SERVER_NAME}`, 'IP:127.0.0.2']);

    const postgres = await startPostgres({ dataDir: join(dataDir, 'postgres') });
    onCleanup(() => postgres.process.stop());
    setupTemporalSchema(postgres);
    const node = await temporalNode({
      name: 'tls-0',
      ip: '127.0.0.2',
      dataDir: join(dataDir, 'temporal'),
      postgres,
      tls: { ...temporalCert, caFile, serverName: SERVER_NAME },
    });
    await node.process.start();
    onCleanup(() => node.process.stop());
    temporalAddress = node.address;

    const password = randomBytes(18).toString('base64url');
    const passwordFile = join(dataDir, 'redis-password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    const redis = await startRedis({ dataDir: join(dataDir, 'redis'), secure: { ...pki.issue('redis'), caFile, username: 'dchain', password } });
    onCleanup(() => redis.process.stop());
    redisPort = redis.port;

    apiPort = await freePort();
    const apiCert = pki.issue('api');
    // The registry notifies the API over HTTPS and trusts the test CA for it (Go reads SSL_CERT_FILE).
    const [source, mirrorRegistry] = await Promise.all([
      useRegistry({
        name: 'source',
        dataDir,
        notify: { url: `https://127.0.0.1:${apiPort}/webhooks/source`, secret: SECRET },
        notifyBackoff: '1s',
        env: { ...process.env, SSL_CERT_FILE: caFile },
      }),
      useRegistry({ name: 'mirror', dataDir }),
    ]);
    sourceHost = source.host;

    const keys = await generateKeyPair('secure-stack-key-password');
    writeFileSync(join(dataDir, 'cosign.key'), keys.privateKeyPem, { mode: 0o600 });
    process.env.SECURE_STACK_KEY_PASSWORD = 'secure-stack-key-password';
    const codecKey = join(dataDir, 'codec.key');
    writeFileSync(codecKey, randomBytes(32).toString('base64'), { mode: 0o600 });
    const osvDir = join(dataDir, 'osv');
    mkdirSync(osvDir, { recursive: true });
    copyFileSync(join(__dirname, '..', 'fixtures', 'osv', 'npm', 'GHSA-jf85-cpcp-j695.json'), join(osvDir, 'GHSA-jf85-cpcp-j695.json'));

    config = parseConfig({
      dataDir,
      temporal: {
        address: temporalAddress,
        taskQueue: `secure-${process.pid}`,
        connectTimeoutMs: 30_000,
        tls: { caFile, certFile: client.certFile, keyFile: client.keyFile, serverName: SERVER_NAME },
        codec: { keys: [{ id: 'k-2026-12', file: codecKey }] },
      },
      redis: { url: redis.url, username: 'dchain', passwordFile, tls: { caFile, certFile: client.certFile, keyFile: client.keyFile } },
      api: { host: '127.0.0.1', port: apiPort, tls: { certFile: apiCert.certFile, keyFile: apiCert.keyFile } },
      registries: [
        { name: 'source', url: source.url },
        { name: 'mirror', url: mirrorRegistry.url },
      ],
      sources: [{ name: 'source', registry: 'source', secret: SECRET }],
      sync: { targets: [{ registry: 'mirror' }] },
      scan: { osv: { directory: osvDir } },
      // The chain is the subject here, not the verdict: the built-in policy records without blocking.
      policy: { mode: 'dry-run' },
      signing: { key: { kind: 'file', path: join(dataDir, 'cosign.key'), passwordEnv: 'SECURE_STACK_KEY_PASSWORD' } },
      metrics: { temporalWorkerPort: 0, ingestWorkerPort: 0 },
      rescan: { enabled: false },
    });
    mirror = RegistryClient.fromConfig(config.registries[1]!);

    // The namespace and search attributes, over mTLS like everything else.
    const admin = await Connection.connect(connectionOptions(config));
    try {
      await ensureNamespace(admin, config.temporal.namespace);
      await waitForNamespace(admin, config.temporal.namespace);
      await ensureSearchAttributes(admin, config.temporal.namespace);
    } finally {
      await admin.close();
    }

    // The three processes' pieces, each connecting from the configuration as its entry point does.
    const apiRedis = watchRedis(producerConnection(redisTarget(config)), logger, 'api');
    const api = await buildApi({ config, logger, redis: apiRedis, plugins: [] });
    await api.app.listen({ host: '127.0.0.1', port: apiPort });
    onCleanup(async () => {
      await api.app.close();
      apiRedis.disconnect();
    });
    session = await connectTemporal(config);
    onCleanup(() => session.close());
    const ingest = startIngestWorker({ config, logger, client: session.client });
    onCleanup(() => ingest.close());
    await useChainWorker(config, { logger });
  });

  after(() => delete process.env.SECURE_STACK_KEY_PASSWORD);

  it('refuses clients without the credentials: plaintext or certificate-less Temporal, Redis without TLS, AUTH or a client certificate', async () => {
    await assert.rejects(Connection.connect({ address: temporalAddress, connectTimeout: 5_000 }).then((c) => c.workflowService.getSystemInfo({})));
    const noClientCert = { serverNameOverride: SERVER_NAME, serverRootCACertificate: readFileSync(caFile) };
    await assert.rejects(
      Connection.connect({ address: temporalAddress, connectTimeout: 5_000, tls: noClientCert }).then((c) => c.workflowService.getSystemInfo({})),
    );

    const tryRedis = async (options: RedisOptions) => {
      const redis = new Redis({
        ...options,
        host: '127.0.0.1',
        port: redisPort,
        lazyConnect: true,
        connectTimeout: 3_000,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        enableReadyCheck: false,
      });
      // A refused AUTH closes the connection; the reason is in the connection's error event.
      const errors: Error[] = [];
      redis.on('error', (err: Error) => errors.push(err));
      try {
        await redis.connect();
        return await redis.ping();
      } catch (err) {
        throw errors.find((e) => /AUTH|WRONGPASS/.test(e.message)) ?? err;
      } finally {
        redis.disconnect();
      }
    };
    await assert.rejects(tryRedis({}), 'plaintext');
    await assert.rejects(tryRedis({ tls: { ca: readFileSync(caFile) } }), 'TLS without a client certificate');
    const target = redisTarget(config) as RedisOptions;
    await assert.rejects(tryRedis({ tls: target.tls }), /NOAUTH|WRONGPASS|Authentication/i);
    assert.equal(
      await tryRedis({ tls: target.tls, username: 'dchain', password: 'not-the-password' })
        .catch((e: Error) => e.message)
        .then(String),
      'WRONGPASS invalid username-password pair or user is disabled.',
    );
    // And the configured path answers; no message names the password.
    assert.equal(await withRedis(config, (redis) => redis.ping()), 'PONG');
    assert.doesNotMatch(describeRedis(config), /dchain:|@/);
  });

  it('a registry push notifies the API over HTTPS and the chain runs to the end, its history encrypted', async () => {
    const layout = join(testDataDir(), 'img');
    const desc = await writeOciImage(layout, busyboxSpec({ user: '1000' }), 'v1');
    await pushImage(layout, 'v1', `${sourceHost}/secure/app:v1`);
    const workflowId = chainWorkflowId({ registry: 'source', repository: 'secure/app', digest: desc.digest });
    const handle = session.client.workflow.getHandle(workflowId);
    const deadline = Date.now() + 240_000;
    let result: ChainStatus | undefined;
    while (!result) {
      try {
        result = (await handle.result()) as ChainStatus;
      } catch (err) {
        if (Date.now() > deadline || !/not found/i.test((err as Error).message)) throw err;
        await delay(500);
      }
    }
    assert.equal(result.stage, 'done');
    assert.equal((await mirror.headManifest('secure/app', desc.digest))?.digest, desc.digest, 'synced to the mirror');

    // What Temporal stores: every input and result payload is ciphertext under the configured key id.
    const history = await handle.fetchHistory();
    const payloads: Array<{ metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }> = [];
    for (const event of history.events ?? []) {
      const attrs = [
        event.workflowExecutionStartedEventAttributes?.input,
        event.activityTaskScheduledEventAttributes?.input,
        event.activityTaskCompletedEventAttributes?.result,
        event.workflowExecutionCompletedEventAttributes?.result,
      ];
      for (const a of attrs) payloads.push(...(a?.payloads ?? []));
    }
    assert.ok(payloads.length >= 8, `payloads in the history: ${payloads.length}`);
    const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : '');
    for (const p of payloads) {
      assert.equal(text(p.metadata?.encoding), ENCRYPTED_ENCODING);
      assert.equal(text(p.metadata?.[KEY_ID_METADATA]), 'k-2026-12');
      assert.doesNotMatch(Buffer.from(p.data ?? new Uint8Array()).toString('latin1'), /secure\/app|sha256:/);
    }

    // The real temporal CLI, through mTLS, reads the history encrypted; with `dchain codec-server`'s codec it reads it decrypted.
    const codecServer = createCodecServer(PayloadEncryption.fromConfig(config.temporal.codec!), { allowOrigins: [] });
    await new Promise<void>((resolve) => codecServer.listen(0, '127.0.0.1', resolve));
    try {
      // Asynchronously: the codec server answering the CLI runs in this process.
      const show = async (extra: string[]) => {
        const { stdout } = await execFileAsync(
          requireTool('temporal', 'the Temporal CLI, installed by npm run setup'),
          [
            'workflow',
            'show',
            '-w',
            workflowId,
            '-o',
            'json',
            '--address',
            temporalAddress,
            '--tls-ca-path',
            caFile,
            '--tls-cert-path',
            clientCert.certFile,
            '--tls-key-path',
            clientCert.keyFile,
            '--tls-server-name',
            SERVER_NAME,
            ...extra,
          ],
          { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
        );
        return stdout;
      };
      const encoding = (out: string) => {
        const started = (
          JSON.parse(out) as { events: Array<{ workflowExecutionStartedEventAttributes?: { input: { payloads: Array<{ metadata: { encoding: string } }> } } }> }
        ).events[0];
        const raw = started?.workflowExecutionStartedEventAttributes?.input.payloads[0]?.metadata.encoding ?? '';
        return /^[A-Za-z0-9+/]+=*$/.test(raw) && !raw.includes('/') ? Buffer.from(raw, 'base64').toString('utf8') : raw;
      };
      assert.equal(encoding(await show([])), ENCRYPTED_ENCODING);
      assert.equal(encoding(await show(['--codec-endpoint', `http://127.0.0.1:${(codecServer.address() as AddressInfo).port}`])), 'json/plain');
    } finally {
      codecServer.close();
    }

    // The other Redis clients (admission's decision store) read what the chain wrote over TLS + AUTH.
    const { redis, label } = admissionRedis(redisTarget(config), describeRedis(config));
    try {
      // No offline queue on admission's connection: wait until it is ready.
      if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
      const decision = await new DecisionStore(redis).latest(desc.digest);
      assert.ok(decision, `a gate decision in ${label}`);
      assert.doesNotMatch(label, /dchain:/);
    } finally {
      redis.disconnect();
    }

    // /healthz over HTTPS (the test CA trusted): Temporal through mTLS and Redis through TLS + AUTH are up.
    const dispatcher = new Agent({ connect: { ca: readFileSync(caFile) } });
    const res = await request(`https://127.0.0.1:${apiPort}/healthz`, { dispatcher });
    const report = (await res.body.json()) as { components: Record<string, { status: string; detail?: string }> };
    assert.equal(report.components.temporal?.status, 'up', JSON.stringify(report.components.temporal));
    assert.equal(report.components.redis?.status, 'up', JSON.stringify(report.components.redis));
    await dispatcher.close();
  });
});
