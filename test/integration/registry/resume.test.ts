import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { isSyncUserAgent, RegistryClient } from '../../../src/registry';
import { copyImage, type CopyProgress } from '../../../src/registry/copy';
import { inspectRaw, pushImage, writeOciImage } from '../../support/images';
import { testDataDir, useRegistry } from '../../support/services';
import { useThrottleProxy } from '../../support/throttle-proxy';
import { useNotificationListener } from '../../support/registry-events';

const LAYERS = 6;
const LAYER_BYTES = 3 * 1024 * 1024;

void it('a copy killed mid-transfer and retried completes without uploading any blob twice', async () => {
  const dir = testDataDir();
  const listener = await useNotificationListener();
  const src = await useRegistry({ name: 'src', dataDir: dir });
  const dst = await useRegistry({ name: 'dst', dataDir: dir, notify: { url: listener.url, secret: 'notification-secret-for-tests' }, notifyBackoff: '100ms' });
  const layout = join(dir, 'image');
  const image = await writeOciImage(
    layout,
    { layers: Array.from({ length: LAYERS }, (_, i) => [{ path: `layer-${i}.bin`, content: randomBytes(LAYER_BYTES) }]) },
    'v1',
  );
  await pushImage(layout, 'v1', `${src.host}/team/big:v1`);
  // 8 MB/s from the source: about 2.5 s for the image, so the kill lands mid-copy.
  const slowSource = await useThrottleProxy(src.port, 8 * 1024 * 1024);

  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(__dirname, 'fixtures', 'copy-image-child.ts'),
      JSON.stringify({ sourceUrl: slowSource.url, targetUrl: dst.url, repo: 'team/big', digest: image.digest, concurrency: 1 }),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  let beforeKill: CopyProgress | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    const progress = JSON.parse(line) as CopyProgress;
    if (progress.blobsDone >= 3) {
      beforeKill = progress;
      child.kill('SIGKILL');
      break;
    }
  }
  assert.equal(await exited, 'SIGKILL', 'the copy was still running when killed');
  assert.ok(beforeKill && beforeKill.blobsDone < beforeKill.blobsTotal);

  const source = new RegistryClient({ url: src.url });
  const target = new RegistryClient({ url: dst.url });
  after(() => Promise.all([source.close(), target.close()]));
  const retry = await copyImage({ source, sourceRepo: 'team/big', target, targetRepo: 'team/big', digest: image.digest });
  assert.ok(retry.blobsPresent >= 3, `finished blobs were not copied again (present: ${retry.blobsPresent})`);
  assert.equal(retry.blobsPresent + retry.blobsCopied, LAYERS + 1);
  assert.equal(await inspectRaw(`${dst.host}/team/big@${image.digest}`), await inspectRaw(`${src.host}/team/big@${image.digest}`));

  // Wait for the registry to deliver the manifest push, which comes after every blob's.
  const deadline = Date.now() + 20_000;
  while (!listener.events.some((e) => e.action === 'push' && e.target.digest === image.digest) && Date.now() < deadline) await delay(100);
  await delay(300);
  const blobPushes = listener.events.filter((e) => e.action === 'push' && e.target.mediaType === 'application/octet-stream');
  const perDigest = new Map<string, number>();
  for (const e of blobPushes) perDigest.set(e.target.digest, (perDigest.get(e.target.digest) ?? 0) + 1);
  assert.equal(perDigest.size, LAYERS + 1, 'every blob pushed');
  for (const [digest, count] of perDigest) assert.equal(count, 1, `blob ${digest} uploaded ${count} times`);
  const childPushes = blobPushes.filter((e) => isSyncUserAgent(e.request.useragent));
  assert.ok(childPushes.length >= 3, 'the killed copy pushed with the sync user agent');
});
