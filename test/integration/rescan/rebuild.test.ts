import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createActivityDeps } from '../../../activities/deps';
import { createRescanActivities } from '../../../activities/rescan';
import { parseBuildRequest } from '../../../src/chain';
import { parseConfig } from '../../../src/config/load';
import { INGEST_QUEUE_NAME } from '../../../src/ingest';
import { createLogger } from '../../../src/log/logger';
import { BuildRecordStore } from '../../../src/source-build';
import { testDataDir, useRedis } from '../../support/services';

/**
 * A rescan that turns a deployed, source-built digest denied queues a build of the same ref (real
 * Redis and the real ingestion queue): one rebuild per digest, nothing for images the chain did not
 * build, nothing when switched off.
 */
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const BUILT = digest(1);
const PUSHED = digest(2);

describe('rescan: rebuilding a deployed digest that turned denied', () => {
  let redis: Redis;
  let config: ReturnType<typeof parseConfig>;
  const env = (workflowId: string) => new MockActivityEnvironment({ workflowExecution: { workflowId, runId: 'run-1' } });

  before(async () => {
    const local = await useRedis();
    redis = new Redis(local.url);
    config = parseConfig({
      dataDir: testDataDir(),
      redis: { url: local.url },
      registries: [{ name: 'staging', url: 'http://127.0.0.1:1' }],
      sources: [],
      sync: { targets: [] },
    });
    const request = parseBuildRequest({
      repoUrl: 'https://git.example.test/team/app.git',
      ref: 'refs/heads/main',
      commit: 'a'.repeat(40),
      registry: 'staging',
      repository: 'builds/team/app',
      tags: ['1.0.0'],
      source: 'github',
    });
    await new BuildRecordStore(redis).record(BUILT, request);
  });

  after(() => redis.disconnect());

  const jobs = async () => {
    const connection = redis.duplicate();
    const queue = new Queue(INGEST_QUEUE_NAME, { connection });
    try {
      return (await queue.getJobs(['waiting', 'delayed', 'active'])).filter((j) => j.name === 'build');
    } finally {
      // BullMQ leaves a connection it was given open.
      await queue.close();
      connection.disconnect();
    }
  };

  it('queues one build of the ref the digest was built from, and no more on a retry of the same rescan', async () => {
    const { rebuildDeployed } = createRescanActivities(createActivityDeps(config, createLogger({ level: 'silent' }), { redis }));
    const id = await env('dchain-rescan-1').run(rebuildDeployed, { digest: BUILT });
    assert.equal(id, `build:https://git.example.test/team/app.git@refs/heads/main+rebuild-of:${BUILT}`);
    const again = await env('dchain-rescan-1').run(rebuildDeployed, { digest: BUILT });
    assert.equal(again, id);
    const queued = await jobs();
    assert.equal(queued.length, 1, 'a retried activity queues nothing more');
    const build = (queued[0]!.data as { build: Record<string, unknown> }).build;
    // The ref's newest commit is built (no commit pinned), marked as the rebuild of the denied digest.
    assert.equal(build.commit, undefined);
    assert.deepEqual(
      [build.ref, build.repository, build.rebuildOf, build.source, build.tags],
      ['refs/heads/main', 'builds/team/app', BUILT, 'rescan', ['1.0.0']],
    );
  });

  it('rebuilds nothing the chain did not build from source, or when switched off', async () => {
    const deps = createActivityDeps(config, createLogger({ level: 'silent' }), { redis });
    assert.equal(await env('dchain-rescan-2').run(createRescanActivities(deps).rebuildDeployed, { digest: PUSHED }), undefined);
    const off = parseConfig({ ...config, rescan: { ...config.rescan, rebuildDeployed: false } });
    const disabled = createRescanActivities(createActivityDeps(off, createLogger({ level: 'silent' }), { redis }));
    assert.equal(await env('dchain-rescan-3').run(disabled.rebuildDeployed, { digest: BUILT }), undefined);
    assert.equal((await jobs()).length, 1);
  });
});
