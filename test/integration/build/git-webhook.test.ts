import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { connectWorkflowStarter } from '../../../workers/temporal-client';
import { type BuildChainInput } from '../../../src/build/start-chain';
import { gitWebhookRoutes } from '../../../src/build/git-webhook/plugin';
import { hmacHex } from '../../../src/build/git-webhook/verify';
import { type Config, configSchema } from '../../../src/config/schema';
import { createLogger } from '../../../src/log/logger';
import { onCleanup, useTemporal } from '../../support/services';

const GITHUB_SECRET = 'github-secret-0123456789';
const GITLAB_TOKEN = 'gitlab-token-0123456789';
const COMMIT = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

void describe('POST /webhooks/git/:source starts the source build chain on Temporal', () => {
  let app: FastifyInstance;
  let client: Client;
  let config: Config;

  before(async () => {
    const temporal = await useTemporal();
    config = configSchema.parse({
      temporal: { address: temporal.address, taskQueue: 'git-webhook-test' },
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
    app = Fastify();
    await app.register(gitWebhookRoutes, { config, logger: createLogger({ level: 'silent' }), connect: () => connectWorkflowStarter(config) });
    const connection = await Connection.connect({ address: temporal.address });
    client = new Client({ connection });
    onCleanup(async () => {
      await app.close();
      await connection.close();
    });
  });

  const githubPush = (ref: string, after = COMMIT) =>
    Buffer.from(JSON.stringify({ ref, after, head_commit: { id: after }, repository: { clone_url: 'https://git.example.test/team/App.git' }, pusher: { name: 'octo' } }));
  const github = (body: Buffer, event = 'push', secret = GITHUB_SECRET) =>
    app.inject({
      method: 'POST',
      url: '/webhooks/git/github',
      headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-hub-signature-256': `sha256=${hmacHex(secret, body)}` },
      payload: body,
    });

  void it('answers 202 and starts deliveryChain once per repository and commit', async () => {
    const first = await github(githubPush('refs/heads/main'));
    assert.equal(first.statusCode, 202, first.body);
    const workflowId = `build:https://git.example.test/team/App.git@${COMMIT}`;
    assert.deepEqual(first.json(), { outcome: 'started', workflowId, repository: 'builds/app', tags: ['main-a1b2c3d', 'main'] });

    const description = await client.workflow.getHandle(workflowId).describe();
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

    // A redelivery joins the chain instead of starting a second one.
    const again = await github(githubPush('refs/heads/main'));
    assert.equal(again.statusCode, 202);
    assert.equal(again.json<{ outcome: string }>().outcome, 'already-started');
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
    const other = Fastify();
    await assert.rejects(async () => {
      await other.register(gitWebhookRoutes, { config: broken, logger: createLogger({ level: 'silent' }), connect: () => connectWorkflowStarter(broken) });
      await other.ready();
    }, /build.staging.registry "nowhere"/);
    await other.close();
  });

  void it('takes GitLab push hooks authenticated by X-Gitlab-Token', async () => {
    const commit = 'f'.repeat(40);
    const body = JSON.stringify({ object_kind: 'push', ref: 'refs/heads/main', before: '0'.repeat(40), after: commit, checkout_sha: commit, user_username: 'gl-user', project: { git_http_url: 'https://gitlab.example.test/group/svc.git' } });
    const send = (token: string) => app.inject({ method: 'POST', url: '/webhooks/git/gitlab', headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': token }, payload: body });
    assert.equal((await send('wrong-token-0123456789')).statusCode, 401);
    const ok = await send(GITLAB_TOKEN);
    assert.equal(ok.statusCode, 202, ok.body);
    assert.equal(ok.json<{ workflowId: string }>().workflowId, `build:https://gitlab.example.test/group/svc.git@${commit}`);
  });
});
