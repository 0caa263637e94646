import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { DecisionStore, evaluatePolicy, imageFactsSchema, parsePolicy } from '../../../src/policy';
import { freePort } from '../../../workers/local/managed-process';
import { onCleanup, testDataDir, useRedis } from '../../support/services';
import { pod, postReview, review, selfSignedCert } from './admission-support';
import { useHungServer } from './kube-support';

const root = resolve(__dirname, '../../..');
const digest = `sha256:${'5'.repeat(64)}`;

/** `dchain policy admission` as a process, as the Deployment runs it. */
async function startWebhook(configPath: string): Promise<{ child: ChildProcess; output: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'cli/dchain.ts'), '--config', configPath, 'policy', 'admission'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  onCleanup(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  for (let i = 0; i < 300 && !output.includes('admission webhook listening'); i++) {
    if (child.exitCode !== null) break;
    await delay(100);
  }
  assert.match(output, /admission webhook listening/, `the webhook did not start: ${output}`);
  return { child, output: () => output, exited };
}

void describe('dchain policy admission as a process: outages and shutdown', { timeout: 180_000 }, async () => {
  const dir = testDataDir('dchain-admission-process-');
  let ca: string;
  let hungHost: string;
  let redisUrl: string;
  const config = (redis: string, port: number) => {
    const path = join(dir, `config-${port}.json`);
    writeFileSync(
      path,
      JSON.stringify({
        log: { level: 'info' },
        redis: { url: redis },
        registries: [{ name: 'slow', url: `http://${hungHost}` }],
        sources: [],
        sync: { targets: [] },
        policy: { file: join(dir, 'policy.json'), admission: { host: '127.0.0.1', port, tlsCertFile: join(dir, 'tls.crt'), tlsKeyFile: join(dir, 'tls.key') } },
      }),
    );
    return path;
  };

  before(async () => {
    const [tls, hung, redisServer] = await Promise.all([selfSignedCert(dir), useHungServer(), useRedis(join(dir, 'redis'))]);
    ca = tls.cert;
    hungHost = hung.host;
    redisUrl = redisServer.url;
    writeFileSync(join(dir, 'tls.crt'), tls.cert);
    writeFileSync(join(dir, 'tls.key'), tls.key);
    const { publicKey } = await import('node:crypto').then((c) => c.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }));
    const policy = {
      apiVersion: 'policy.delivery-chain.dev/v1',
      kind: 'ImagePolicy',
      metadata: { name: 'p' },
      mode: 'enforce',
      trustedKeys: [{ id: 'k', publicKey: publicKey.export({ type: 'spki', format: 'pem' }) }],
      rules: [{ name: 'r' }],
    };
    writeFileSync(join(dir, 'policy.json'), JSON.stringify(policy));
    const redis = new Redis(redisUrl);
    const facts = imageFactsSchema.parse({
      registry: hungHost,
      repository: 'team/app',
      digest,
      scannedAt: new Date().toISOString(),
      findings: [],
      hygiene: { user: '1000', sizeBytes: 1, layerCount: 1, efficiency: 1 },
    });
    await new DecisionStore(redis).record(facts, evaluatePolicy(facts, parsePolicy(policy), new Date()));
    redis.disconnect();
  });

  void it('starts while Redis is unreachable and refuses images naming the outage', async () => {
    const deadRedis = `redis://127.0.0.1:${await freePort()}`;
    const port = await freePort();
    const webhook = await startWebhook(config(deadRedis, port));
    const { body } = await postReview(
      `https://127.0.0.1:${port}`,
      ca,
      review('uid-outage', 'Pod', 'shop', pod([{ name: 'web', image: `${hungHost}/team/app@${digest}` }])),
    );
    assert.equal(body.response?.allowed, false);
    assert.match(
      body.response?.status?.message ?? '',
      new RegExp(`containers\\[web\\]: cannot be checked: the decision store \\(Redis at ${deadRedis.replace(/\./g, '\\.')}\\) is unreachable`),
    );
    webhook.child.kill('SIGTERM');
    assert.equal(await webhook.exited, 0);
  });

  void it('on SIGTERM cancels a check hung on a registry and exits within 5 s', async () => {
    const port = await freePort();
    const webhook = await startWebhook(config(redisUrl, port));
    const pending = postReview(
      `https://127.0.0.1:${port}`,
      ca,
      review('uid-hung', 'Pod', 'shop', pod([{ name: 'web', image: `${hungHost}/team/app@${digest}` }])),
    ).catch((err: Error) => err);
    await delay(1_000); // the check is now waiting on the hung registry
    const started = Date.now();
    webhook.child.kill('SIGTERM');
    const code = await Promise.race([webhook.exited, delay(5_000).then(() => 'still running' as const)]);
    assert.notEqual(code, 'still running', `the webhook did not exit within 5 s of SIGTERM (${Date.now() - started} ms):\n${webhook.output()}`);
    const answer = await pending;
    if (!(answer instanceof Error)) assert.equal(answer.body.response?.allowed, false);
  });
});
