import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createSyncActivities, type SyncResult } from '../../../activities/sync';
import { configSchema } from '../../../src/config/schema';
import { createLogger } from '../../../src/log/logger';
import { busyboxSpec, inspectRaw, pushImage, writeOciImage } from '../../support/images';
import { testDataDir, useRegistry } from '../../support/services';
import { useThrottleProxy } from '../../support/throttle-proxy';
import { RegistryClient } from '../../../src/registry';

const quiet = new DefaultLogger('ERROR', () => undefined);

void describe('syncImage activity', async () => {
  const dir = testDataDir();
  const [src, eu, us] = await Promise.all(['src', 'eu', 'us'].map((name) => useRegistry({ name, dataDir: dir })));
  const slow = await useThrottleProxy(src!.port, 2 * 1024 * 1024);
  const config = configSchema.parse({
    registries: [
      { name: 'source', url: src!.url },
      { name: 'slow-source', url: slow.url },
      { name: 'eu', url: eu!.url },
      { name: 'us', url: us!.url },
    ],
    sync: {
      targets: [
        { registry: 'eu', repositoryPrefix: 'mirror/' },
        { registry: 'us', replace: [{ from: 'team', to: 'platform/team' }] },
      ],
    },
  });
  const { syncImage } = createSyncActivities({ config, logger: createLogger({ level: 'silent' }) });
  const target = (name: 'eu' | 'us') => {
    const client = new RegistryClient({ url: (name === 'eu' ? eu : us)!.url });
    after(() => client.close());
    return client;
  };

  void it('copies to every target with its repository mapping, heartbeating progress', async () => {
    const image = await writeOciImage(join(dir, 'app'), busyboxSpec(), 'v1');
    await pushImage(join(dir, 'app'), 'v1', `${src!.host}/team/app:v1`);
    const env = new MockActivityEnvironment(undefined, { logger: quiet });
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const result = (await env.run(syncImage, { sourceRegistry: 'source', repository: 'team/app', digest: image.digest, tags: ['v1'] })) as SyncResult;
    assert.deepEqual(
      result.targets.map((t) => [t.registry, t.repository, t.blobsCopied]),
      [
        ['eu', 'mirror/team/app', 2],
        ['us', 'platform/team/app', 2],
      ],
    );
    const raw = await inspectRaw(`${src!.host}/team/app:v1`);
    assert.equal(await inspectRaw(`${eu!.host}/mirror/team/app:v1`), raw);
    assert.equal(await inspectRaw(`${us!.host}/platform/team/app:v1`), raw);
    assert.ok(beats.length >= 2, 'heartbeats during the copy');
  });

  void it('resumes after the targets a previous attempt heartbeated as done', async () => {
    const image = await writeOciImage(join(dir, 'resume'), busyboxSpec({ user: 'resume' }), 'v1');
    await pushImage(join(dir, 'resume'), 'v1', `${src!.host}/team/resume:v1`);
    const done = {
      registry: 'eu',
      repository: 'mirror/team/resume',
      digest: image.digest,
      blobsCopied: 2,
      blobsMounted: 0,
      blobsPresent: 0,
      bytesCopied: 1,
      manifestsPushed: 1,
      manifestsPresent: 0,
      artifacts: [],
    };
    const env = new MockActivityEnvironment({ heartbeatDetails: { completed: [done] } }, { logger: quiet });
    const result = (await env.run(syncImage, { sourceRegistry: src!.host, repository: 'team/resume', digest: image.digest })) as SyncResult;
    assert.deepEqual(
      result.targets.map((t) => t.registry),
      ['eu', 'us'],
    );
    await assert.rejects(inspectRaw(`${eu!.host}/mirror/team/resume@${image.digest}`), 'eu was not visited again');
    assert.equal(result.targets[1]?.blobsCopied, 2);
  });

  void it('refuses bad input as a non-retryable failure naming the field', async () => {
    const env = new MockActivityEnvironment(undefined, { logger: quiet });
    await assert.rejects(
      env.run(syncImage, { sourceRegistry: 'source', repository: 'team/app', digest: 'latest' }),
      (err) => err instanceof ApplicationFailure && err.nonRetryable && err.type === 'BAD_INPUT' && /digest/.test(err.message),
    );
    await assert.rejects(
      env.run(syncImage, { sourceRegistry: 'nowhere', repository: 'team/app', digest: `sha256:${'0'.repeat(64)}` }),
      (err) => err instanceof ApplicationFailure && err.nonRetryable && /nowhere/.test(err.message),
    );
  });

  void it('stops a copy in flight when the activity is cancelled', async () => {
    const image = await writeOciImage(
      join(dir, 'cancel'),
      { layers: [0, 1, 2].map((i) => [{ path: `${i}.bin`, content: randomBytes(2 * 1024 * 1024) }]) },
      'v1',
    );
    await pushImage(join(dir, 'cancel'), 'v1', `${src!.host}/team/cancel:v1`);
    const env = new MockActivityEnvironment(undefined, { logger: quiet });
    env.on('heartbeat', (d: { current?: { progress: { bytesDone: number } } }) => {
      if ((d.current?.progress.bytesDone ?? 0) > 0 && !cancelledAt) {
        cancelledAt = Date.now();
        env.cancel('CANCELLED');
      }
    });
    let cancelledAt = 0;
    await assert.rejects(
      env.run(syncImage, { sourceRegistry: 'slow-source', repository: 'team/cancel', digest: image.digest }),
      (err) => err instanceof CancelledFailure,
    );
    assert.ok(cancelledAt > 0 && Date.now() - cancelledAt < 500, `stopped ${Date.now() - cancelledAt} ms after the cancellation`);
    assert.equal(await target('eu').headManifest('mirror/team/cancel', image.digest), undefined);
  });
});
