import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createBuildActivities } from '../../../activities/build';
import { createActivityDeps } from '../../../activities/deps';
import { type BuildRequest } from '../../../src/chain';
import { configSchema } from '../../../src/config/schema';
import { createLogger } from '../../../src/log/logger';
import { busyboxSpec, pushImage, writeOciImage } from '../../support/images';
import { onCleanup, testDataDir, useRedis, useRegistry, useTemporal } from '../../support/services';
import { GitFixture } from '../../support/git-fixture';

const TASK_QUEUE = 'build-stage-test';

void describe('buildImage on a real Temporal worker', () => {
  let client: Client;
  let git: GitFixture;
  let base: string;

  before(async () => {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    const [registry, temporal, redis] = await Promise.all([useRegistry(), useTemporal(), useRedis()]);
    const dataDir = testDataDir();
    await writeOciImage(join(dataDir, 'base'), busyboxSpec(), 'v1');
    base = `${registry.host}/base/busybox:v1`;
    await pushImage(join(dataDir, 'base'), 'v1', base);
    git = new GitFixture(testDataDir());
    const config = configSchema.parse({
      dataDir,
      temporal: { address: temporal.address, taskQueue: TASK_QUEUE },
      redis: { url: redis.url },
      registries: [{ name: 'staging', url: registry.url }],
      sources: [],
      sync: { targets: [] },
    });
    const deps = createActivityDeps(config, createLogger({ level: 'silent' }));
    const nativeConnection = await NativeConnection.connect({ address: temporal.address });
    const worker = await Worker.create({
      connection: nativeConnection,
      taskQueue: TASK_QUEUE,
      workflowsPath: require.resolve('./workflows/build-only'),
      activities: createBuildActivities(deps),
    });
    const running = worker.run();
    const connection = await Connection.connect({ address: temporal.address });
    client = new Client({ connection });
    onCleanup(async () => {
      worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
      deps.redis.disconnect();
    });
  });

  const request = (commit: string): BuildRequest => ({
    repoUrl: git.bare,
    ref: 'refs/heads/main',
    commit,
    registry: 'staging',
    repository: 'team/worker-app',
    tags: [],
    dockerfile: 'Dockerfile',
    context: '.',
    buildArgs: {},
    source: 'cli',
  });

  const activityAttempts = async (workflowId: string) => {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const started = history.events?.filter((e) => e.activityTaskStartedEventAttributes) ?? [];
    return started.map((e) => e.activityTaskStartedEventAttributes?.attempt);
  };

  void it('returns the built image through the workflow', async () => {
    const commit = git.commit({ Dockerfile: `FROM ${base} AS one\nFROM ${base}\nUSER 1000\n` }, 'ok');
    const built = await client.workflow.execute('buildOnly', { taskQueue: TASK_QUEUE, workflowId: `build-ok-${commit}`, args: [request(commit)] });
    assert.deepEqual([built.tags, built.multiStage, built.commit], [[`sha-${commit.slice(0, 12)}`], true, commit]);
  });

  void it('does not retry a Dockerfile error: one attempt, BUILD_FAILED in the workflow failure', async () => {
    const commit = git.commit({ Dockerfile: `FROM ${base}\nRUN exit 7\n` }, 'broken');
    const workflowId = `build-broken-${commit}`;
    await assert.rejects(client.workflow.execute('buildOnly', { taskQueue: TASK_QUEUE, workflowId, args: [request(commit)] }), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.ok(err.cause instanceof ActivityFailure);
      assert.ok(err.cause.cause instanceof ApplicationFailure);
      assert.equal(err.cause.cause.type, 'BUILD_FAILED');
      assert.match(err.cause.cause.message, /exit status 7|exit 7/);
      return true;
    });
    assert.deepEqual(await activityAttempts(workflowId), [1]);
  });
});
