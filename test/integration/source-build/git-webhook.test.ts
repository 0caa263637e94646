import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { type FastifyInstance } from 'fastify';
import { buildApi } from '../../../workers/api';
import { type IngestWorker, startIngestWorker } from '../../../workers/ingest-worker';
import { type BuildChainInput } from '../../../src/source-build/start-chain';
import { producerConnection, workerConnection } from '../../../src/ingest';
import { hmacHex } from '../../../src/source-build/git-webhook/verify';
import { type Config, configSchema } from '../../../src/config/schema';
import { createLogger } from '../../../src/log/logger';
import { onCleanup, useRedis, useTemporal } from '../../support/services';

const logger = createLogger({ level: 'silent' });

const GITHUB_SECRET = 'github-secret-0123456789';
const GITLAB_TOKEN = 'gitlab-token-0123456789';
const COMMIT = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

void describe('POST /webhooks/git/:source queues the source build; the queue worker starts its chain on Temporal', () => {
  let app: FastifyInstance;
  let client: Client;
  let config: Config;
  let ingest: IngestWorker | undefined;
  let redisUrl: string;

  before(async () => {
    const [temporal, redis] = await Promise.all([useTemporal(), useRedis()]);
    redisUrl = redis.url;
    config = configSchema.parse({
      temporal: { address: temporal.address, taskQueue: 'git-webhook-test' },
      redis: { url: redis.url },
      registries: [{ name: 'staging', url: 'http://127.0.0.1:5999' }],
      sources: [],
      sync: { targets: [] },
      build: {
        staging: { registry: 'staging', repository: 'builds/${repo}' },
        rules: [{ ref: '^refs/heads/main$', tags: ['main-${shortCommit}', 'main'] }],
        gitSources: [
          { name: 'github', format: 'github', secret: GITHUB_SECRET },
          { name: 'gitlab', format: 'gitlab', secret: GITLAB_TOKEN },
        ],
      },
    });
    const apiRedis = producerConnection(redis.url);
    apiRedis.on('error', () => undefined);
    ({ app } = await buildApi({ config, logger, redis: apiRedis, plugins: [] }));
    const connection = await Connection.connect({ address: temporal.address });
    client = new Client({ connection });
    onCleanup(async () => {
      await ingest?.close();
      await app.close();
      apiRedis.disconnect();
      await connection.close();
    });
  });

  const startQueueWorker = () => {
    if (ingest) return;
    const redis = workerConnection(redisUrl);
    redis.on('error', () => undefined);
    ingest = startIngestWorker({ config, logger, client, redis });
    onCleanup(() => redis.disconnect());
  };
  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  const githubPush = (ref: string, after = COMMIT) =>
    Buffer.from(
      JSON.stringify({ ref, after, head_commit: { id: after }, repository: { clone_url: 'https://git.example.test/team/App.git' }, pusher: { name: 'octo' } }),
    );
  const github = (body: Buffer, event = 'push', secret = GITHUB_SECRET, deliveryId?: string) =>
    app.inject({
      method: 'POST',
      url: '/webhooks/git/github',
      headers: {
        'content-type': 'application/json',
        'x-github-event': event,
        'x-hub-signature-256': `sha256=${hmacHex(secret, body)}`,
        ...(deliveryId ? { 'x-github-delivery': deliveryId } : {}),
      },
      payload: body,
    });

  void it('queues a push durably (202 before any chain starts), logs and counts it; the queue worker starts deliveryChain once per commit', async () => {
    // No queue worker yet (as while Temporal or the worker is down): the push waits in Redis.
    const first = await github(githubPush('refs/heads/main'), 'push', GITHUB_SECRET, 'delivery-1');
    assert.equal(first.statusCode, 202, first.body);
    const workflowId = `build:https://git.example.test/team/App.git@${COMMIT}`;
    assert.deepEqual(first.json(), { outcome: 'queued', workflowId, repository: 'builds/app', tags: ['main-a1b2c3d', 'main'] });
    const redelivered = await github(githubPush('refs/heads/main'), 'push', GITHUB_SECRET, 'delivery-1');
    assert.deepEqual([redelivered.statusCode, redelivered.json<{ outcome: string }>().outcome], [200, 'duplicate-delivery']);
    await new Promise((r) => setTimeout(r, 200)); // the delivery log writes in 50 ms batches
    const deliveries = (await app.inject({ method: 'GET', url: '/webhooks/deliveries?limit=10' })).json<{
      deliveries: Array<{ source: string; status: number; outcome: string }>;
    }>();
    const logged = deliveries.deliveries.filter((d) => d.source === 'git/github');
    assert.deepEqual(
      logged.map((d) => [d.status, d.outcome]),
      [
        [200, 'duplicate'],
        [202, 'accepted'],
      ],
    );
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /dchain_webhook_deliveries_total\{source="git\/github",status="202"\} 1/);
    assert.match(metrics, /dchain_ingest_queue_depth\{state="waiting"\} 1/);

    startQueueWorker();
    const description = await waitFor('the build chain', () => client.workflow.getHandle(workflowId).describe());
    assert.equal(description.type, 'deliveryChain');
    assert.equal(description.taskQueue, 'git-webhook-test');
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const payload = started?.input?.payloads?.[0]?.data;
    assert.ok(payload);
    const input = JSON.parse(Buffer.from(payload).toString('utf8')) as BuildChainInput;
    assert.equal(input.registry, 'staging');
    assert.equal(input.repository, 'builds/app');
    assert.equal(input.digest, '');
    assert.equal(input.source, 'git');
    assert.deepEqual(input.tags, ['main-a1b2c3d', 'main']);
    assert.deepEqual(input.build, {
      repoUrl: 'https://git.example.test/team/App.git',
      ref: 'refs/heads/main',
      commit: COMMIT,
      registry: 'staging',
      repository: 'builds/app',
      tags: ['main-a1b2c3d', 'main'],
      dockerfile: 'Dockerfile',
      context: '.',
      buildArgs: {},
      source: 'github',
      pusher: 'octo',
    });

    // Another delivery of the same commit joins the chain instead of starting a second one.
    const again = await github(githubPush('refs/heads/main'), 'push', GITHUB_SECRET, 'delivery-2');
    assert.equal(again.statusCode, 202);
    await waitFor('an idle queue', async () => ((await ingest!.queue.depth()).waiting + (await ingest!.queue.depth()).active === 0 ? true : undefined));
    let runs = 0;
    for await (const _ of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs++;
    assert.equal(runs, 1);
  });

  void it('refuses bad signatures and unknown sources, and answers 200 to what builds nothing', async () => {
    const forged = await github(githubPush('refs/heads/main'), 'push', 'not-the-secret-at-all');
    assert.equal(forged.statusCode, 401);
    assert.match(forged.json<{ error: string }>().error, /X-Hub-Signature-256/);

    const unknown = await app.inject({ method: 'POST', url: '/webhooks/git/nope', headers: { 'content-type': 'application/json' }, payload: '{}' });
    assert.equal(unknown.statusCode, 404);

    const ping = await github(Buffer.from(JSON.stringify({ zen: 'Keep it logically awesome.' })), 'ping');
    assert.deepEqual([ping.statusCode, ping.json<{ outcome: string }>().outcome], [200, 'ignored']);

    const feature = await github(githubPush('refs/heads/feature/x'));
    assert.deepEqual([feature.statusCode, feature.json<{ outcome: string }>().outcome], [200, 'no-rule']);

    const deleted = await github(githubPush('refs/heads/main', '0'.repeat(40)));
    assert.deepEqual([deleted.statusCode, deleted.json<{ outcome: string }>().outcome], [200, 'ignored']);

    const notJson = await github(Buffer.from('{"ref": '));
    assert.equal(notJson.statusCode, 400);
  });

  void it('refuses to start with Git sources but no staging registry', async () => {
    const broken = configSchema.parse({ ...config, build: { ...config.build, staging: { registry: 'nowhere', repository: 'x' } } });
    const redis = producerConnection(redisUrl, { lazyConnect: true });
    await assert.rejects(buildApi({ config: broken, logger, redis, plugins: [] }), /build.staging.registry "nowhere"/);
    redis.disconnect();
  });

  void it('takes GitLab push hooks authenticated by X-Gitlab-Token', async () => {
    const commit = 'f'.repeat(40);
    const body = JSON.stringify({
      object_kind: 'push',
      ref: 'refs/heads/main',
      before: '0'.repeat(40),
      after: commit,
      checkout_sha: commit,
      user_username: 'gl-user',
      project: { git_http_url: 'https://gitlab.example.test/group/svc.git' },
    });
    const send = (token: string) =>
      app.inject({
        method: 'POST',
        url: '/webhooks/git/gitlab',
        headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': token },
        payload: body,
      });
    assert.equal((await send('wrong-token-0123456789')).statusCode, 401);
    const ok = await send(GITLAB_TOKEN);
    assert.equal(ok.statusCode, 202, ok.body);
    const workflowId = `build:https://gitlab.example.test/group/svc.git@${commit}`;
    assert.equal(ok.json<{ workflowId: string }>().workflowId, workflowId);
    startQueueWorker();
    await waitFor('the GitLab build chain', () => client.workflow.getHandle(workflowId).describe());
  });
});
