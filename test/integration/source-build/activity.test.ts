import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createBuildActivities } from '../../../activities/build';
import { createActivityDeps } from '../../../activities/deps';
import { type BuiltImage } from '../../../src/source-build/built-image';
import { configSchema } from '../../../src/config/schema';
import { createLogger } from '../../../src/log/logger';
import { freePort } from '../../../workers/local/managed-process';
import { busyboxSpec, pushImage, writeOciImage } from '../../support/images';
import { testDataDir, useRedis, useRegistry } from '../../support/services';
import { BuildRecordStore } from '../../../src/source-build';
import { Redis } from 'ioredis';
import { GitFixture } from '../../support/git-fixture';

void describe('buildImage activity: heartbeats and failure types', () => {
  let activities: ReturnType<typeof createBuildActivities>;
  let git: GitFixture;
  let base: string;
  const heartbeats: unknown[] = [];
  const env = new MockActivityEnvironment();
  env.on('heartbeat', (d: unknown) => heartbeats.push(d));

  let redis: Redis;

  before(async () => {
    const dataDir = testDataDir();
    const [registry, localRedis] = await Promise.all([useRegistry(), useRedis(dataDir)]);
    redis = new Redis(localRedis.url);
    await writeOciImage(join(dataDir, 'base'), busyboxSpec(), 'v1');
    base = `${registry.host}/base/busybox:v1`;
    await pushImage(join(dataDir, 'base'), 'v1', base);
    git = new GitFixture(testDataDir());
    const closedPort = await freePort();
    const config = configSchema.parse({
      dataDir,
      registries: [
        { name: 'staging', url: registry.url },
        { name: 'offline', url: `http://127.0.0.1:${closedPort}` },
      ],
      sources: [],
      sync: { targets: [] },
    });
    activities = createBuildActivities(createActivityDeps(config, createLogger({ level: 'silent' }), { redis }));
  });

  after(() => redis.disconnect());

  const request = (commit: string, registry = 'staging') => ({
    repoUrl: git.bare,
    ref: 'refs/heads/main',
    commit,
    registry,
    repository: 'team/app',
    tags: ['v1'],
    dockerfile: 'Dockerfile',
    context: '.',
    buildArgs: {},
    source: 'cli',
  });

  void it('builds, pushes and heartbeats each phase', async () => {
    const commit = git.commit({ Dockerfile: `FROM ${base}\nRUN echo hello > /hello\nUSER 1000\n` }, 'app');
    const built = (await env.run(activities.buildImage, request(commit))) as BuiltImage;
    assert.match(built.digest, /^sha256:[a-f0-9]{64}$/);
    // What the digest was built from is recorded, for a rescan that must build it again.
    assert.deepEqual((await new BuildRecordStore(redis).get(built.digest))?.commit, commit);
    assert.deepEqual([built.multiStage, built.user, built.strippedSetuid], [false, '1000', []]);
    const phases = new Set(heartbeats.map((h) => (h as { phase: string }).phase));
    assert.deepEqual([...phases], ['checkout', 'build', 'harden', 'push', 'tag']);
  });

  void it('fails a Dockerfile error as non-retryable BUILD_FAILED and an unreachable registry as retryable', async () => {
    const broken = git.commit({ Dockerfile: `FROM ${base}\nCOPY missing-file /\n` }, 'broken');
    await assert.rejects(env.run(activities.buildImage, request(broken)), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.deepEqual([err.type, err.nonRetryable], ['BUILD_FAILED', true]);
      return true;
    });

    const fine = git.commit({ Dockerfile: `FROM ${base}\nUSER 1000\n` }, 'fine');
    await assert.rejects(env.run(activities.buildImage, request(fine, 'offline')), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.deepEqual([err.type, err.nonRetryable], ['REGISTRY_ERROR', false]);
      return true;
    });

    await assert.rejects(env.run(activities.buildImage, { ...request(fine), repoUrl: 'https://user:pw@git.example.test/x.git' }), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.deepEqual([err.type, err.nonRetryable], ['BAD_INPUT', true]);
      assert.match(err.message, /credentials in the repository URL/);
      return true;
    });
  });
});
