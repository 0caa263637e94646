import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { parseConfig } from '../../../src/config/load';
import { RegistryClient, cosignTag } from '../../../src/registry';
import { generateKeyPair } from '../../../src/signing';
import { ManagedProcess } from '../../../workers/local/managed-process';
import { deliveryChain } from '../../../workflows/delivery-chain';
import { useThrottleProxy } from '../../support/throttle-proxy';
import { pushImage, writeOciImage } from '../../support/images';
import { blobUploads, useNotificationListener } from '../../support/registry-events';
import { onCleanup, testDataDir, useRedis, useRegistry, useTemporal } from '../../support/services';
import { type ChainStatus } from '../../../src/chain';

const ROOT = resolve(__dirname, '..', '..', '..');
const LAYERS = 6;
const LAYER_BYTES = 4 * 1024 * 1024;

describe('a worker SIGKILLed in the middle of sync', () => {
  it('completes the chain after a restart with the same result and no duplicate blobs, signatures or notifications', async () => {
    const dataDir = testDataDir();
    const mirrorEvents = await useNotificationListener();
    const [temporal, redis, source, mirror] = await Promise.all([
      useTemporal(dataDir),
      useRedis(dataDir),
      useRegistry({ name: 'source', dataDir }),
      useRegistry({ name: 'mirror', dataDir, notify: { url: mirrorEvents.url, secret: 'notification-secret-for-tests' }, notifyBackoff: '100ms' }),
    ]);
    // The worker reaches the mirror through a slow link, so the copy is still running when it is killed.
    const slowMirror = await useThrottleProxy(mirror.port, 8 * 1024 * 1024);
    const notes: string[] = [];
    const subscriber = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        notes.push(body);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((done) => subscriber.listen(0, '127.0.0.1', done));
    onCleanup(() => new Promise<void>((done) => subscriber.close(() => done())));

    const keys = await generateKeyPair('crash-test-password');
    writeFileSync(join(dataDir, 'cosign.key'), keys.privateKeyPem, { mode: 0o600 });
    // Some vulnerability data in the default directory: the built-in policy denies an image matched against none.
    mkdirSync(join(dataDir, 'osv'), { recursive: true });
    copyFileSync(join(__dirname, '..', '..', 'fixtures', 'osv', 'npm', 'GHSA-jf85-cpcp-j695.json'), join(dataDir, 'osv', 'GHSA-jf85-cpcp-j695.json'));
    const config = {
      dataDir,
      temporal: { address: temporal.address, taskQueue: 'crash-recovery' },
      redis: { url: redis.url },
      registries: [
        { name: 'source', url: source.url },
        { name: 'mirror', url: slowMirror.url },
      ],
      sources: [{ name: 'source', registry: 'source', secret: 'webhook-secret-0123456789' }],
      sync: { targets: [{ registry: 'mirror' }] },
      signing: { key: { kind: 'file', path: join(dataDir, 'cosign.key'), passwordEnv: 'CRASH_TEST_KEY_PASSWORD' } },
      distribute: {
        subscribers: [{ name: 'audit', url: `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}/`, secret: 'subscriber-secret-0123456789' }],
      },
      // The killed worker and its replacement must not depend on a fixed metrics port being free.
      metrics: { temporalWorkerPort: 0, ingestWorkerPort: 0 },
    };
    parseConfig(config);
    const configFile = join(dataDir, 'config.json');
    writeFileSync(configFile, JSON.stringify(config));
    const worker = (n: number) =>
      new ManagedProcess({
        name: `temporal-worker-${n}`,
        command: process.execPath,
        args: ['--import', 'tsx', join(ROOT, 'workers', 'temporal-worker.ts')],
        env: {
          ...process.env,
          DCHAIN_CONFIG: configFile,
          CRASH_TEST_KEY_PASSWORD: 'crash-test-password',
          DCHAIN_READY_FILE: join(dataDir, `worker-${n}.ready`),
          LOG_LEVEL: 'info',
        },
        logFile: join(dataDir, `worker-${n}.log`),
        readyTimeoutMs: 120_000,
        ready: async () => (await import('node:fs')).existsSync(join(dataDir, `worker-${n}.ready`)),
      });

    const layout = join(dataDir, 'image');
    const image = await writeOciImage(
      layout,
      {
        layers: Array.from({ length: LAYERS }, (_, i) => [{ path: `data-${i}.bin`, content: randomBytes(LAYER_BYTES) }]),
        user: '1000',
      },
      'v1',
    );
    await pushImage(layout, 'v1', `${source.host}/team/big:v1`);

    const first = worker(1);
    await first.start();
    onCleanup(() => first.stop());
    const connection = await Connection.connect({ address: temporal.address });
    onCleanup(() => connection.close());
    const client = new Client({ connection });
    const handle = await client.workflow.start(deliveryChain, {
      taskQueue: 'crash-recovery',
      workflowId: `chain:source/team/big@${image.digest}`,
      args: [{ registry: 'source', repository: 'team/big', digest: image.digest, tags: ['v1'], pushedAt: new Date().toISOString(), source: 'test' }],
    });

    // Kill the worker once the mirror has some of the image's blobs but not all.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const status = await handle.query<ChainStatus>('status');
      const uploaded = blobUploads(mirrorEvents.events).size;
      if (status.stage === 'sync' && uploaded >= 1) {
        assert.ok(uploaded < LAYERS + 1, `still copying when killed (${uploaded} of ${LAYERS + 1} blobs in the mirror)`);
        break;
      }
      assert.ok(!['done', 'failed', 'blocked'].includes(status.stage), `the chain ended (${status.stage}) before the kill`);
      assert.ok(Date.now() < deadline, 'sync never started');
      await delay(20);
    }
    await first.kill();

    const second = worker(2);
    await second.start();
    onCleanup(() => second.stop());
    const result = await handle.result();
    assert.equal(result.stage, 'done');

    const mirrorClient = new RegistryClient({ url: mirror.url });
    assert.equal((await mirrorClient.headManifest('team/big', image.digest))?.digest, image.digest);
    // Let the registry deliver the last notifications, then count uploads per blob.
    await delay(1500);
    for (const [digest, count] of blobUploads(mirrorEvents.events)) assert.equal(count, 1, `blob ${digest} uploaded ${count} times`);
    const signatures = await mirrorClient.getManifest('team/big', cosignTag(image.digest, 'sig'));
    assert.equal((signatures.manifest as { layers: unknown[] }).layers.length, 1, 'one signature, not two');
    assert.equal(notes.length, 1, 'one notification');
  });
});
