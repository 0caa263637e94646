import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { type ActivityFailure, type ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { parseConfig } from '../../../src/config/load';
import { type Config } from '../../../src/config/schema';
import { SIGNATURE_HEADER, verifyNotification } from '../../../src/distribute/notification-signature';
import { RegistryClient } from '../../../src/registry';
import { generateKeyPair, verifyImage } from '../../../src/signing';
import { breakGlass } from '../../../cli/commands/chain';
import { deliveryChain } from '../../../workflows/delivery-chain';
import { requireTool } from '../../../workers/local/tools';
import { buildRequestFromPush, startBuildChain } from '../../../src/source-build';
import { buildRuleSchema } from '../../../src/config/sections/build';
import { GitFixture } from '../../support/git-fixture';
import { useChainWorker, type RunningChainWorker } from '../../support/chain-worker';
import { recordHistory } from '../../support/histories';
import { busyboxSpec, pushImage, writeOciImage } from '../../support/images';
import { testDataDir, useRedis, useRegistry, useTemporal } from '../../support/services';
import { type ReceivedNotification, useSubscriber } from '../../support/subscriber';
import { type ChainInput, type ChainStatus } from '../../../src/chain';

const SUBSCRIBER_SECRET = 'subscriber-secret-0123456789';
const KEY_PASSWORD = 'chain-test-key-password';

describe('deliveryChain on the project worker', () => {
  let config: Config;
  let chain: RunningChainWorker;
  let source: RegistryClient;
  let mirror: RegistryClient;
  let publicKeyPem: string;
  let registryHost: string;
  let mirrorHost: string;
  let received: ReceivedNotification[];

  before(async () => {
    const dataDir = testDataDir();
    const [temporal, redis, registry, mirrorRegistry] = await Promise.all([
      useTemporal(dataDir),
      useRedis(dataDir),
      useRegistry({ name: 'source', dataDir }),
      useRegistry({ name: 'mirror', dataDir }),
    ]);
    // The signing key stays out of the configuration and history: a file, its password in the environment.
    const keys = await generateKeyPair(KEY_PASSWORD);
    writeFileSync(join(dataDir, 'cosign.key'), keys.privateKeyPem, { mode: 0o600 });
    publicKeyPem = keys.publicKeyPem;
    process.env.CHAIN_TEST_KEY_PASSWORD = KEY_PASSWORD;
    // Real advisory data (lodash CVE-2019-10744, CRITICAL) and a policy that blocks critical findings.
    const osvDir = join(dataDir, 'osv');
    mkdirSync(osvDir, { recursive: true });
    copyFileSync(join(__dirname, '..', '..', 'fixtures', 'osv', 'npm', 'GHSA-jf85-cpcp-j695.json'), join(osvDir, 'GHSA-jf85-cpcp-j695.json'));
    const policyFile = join(dataDir, 'policy.yaml');
    writeFileSync(
      policyFile,
      [
        'apiVersion: policy.delivery-chain.dev/v1',
        'kind: ImagePolicy',
        'metadata: { name: chain-test, version: "1" }',
        'mode: enforce',
        'rules:',
        '  - name: no-critical',
        '    vulnerabilities:',
        '      maxSeverity: { fixable: HIGH, unfixable: HIGH }',
        '',
      ].join('\n'),
    );
    const subscriber = await useSubscriber();
    received = subscriber.received;
    registryHost = registry.host;
    mirrorHost = mirrorRegistry.host;
    config = parseConfig({
      dataDir,
      temporal: { address: temporal.address, taskQueue: `chain-${process.pid}` },
      redis: { url: redis.url },
      registries: [
        { name: 'source', url: registry.url },
        { name: 'mirror', url: mirrorRegistry.url },
      ],
      sources: [{ name: 'source', registry: 'source', secret: 'webhook-secret-0123456789' }],
      sync: { targets: [{ registry: 'mirror', repositoryPrefix: 'eu/' }] },
      scan: { osv: { directory: osvDir } },
      policy: { file: policyFile },
      signing: { key: { kind: 'file', path: join(dataDir, 'cosign.key'), passwordEnv: 'CHAIN_TEST_KEY_PASSWORD' } },
      distribute: {
        promoteTags: ['stable', 'prod-{date}'],
        subscribers: [{ name: 'audit', url: subscriber.url, secret: SUBSCRIBER_SECRET }],
      },
    });
    source = RegistryClient.fromConfig(config.registries[0]!);
    mirror = RegistryClient.fromConfig(config.registries[1]!);
    chain = await useChainWorker(config);
  });

  it('takes a clean push through scan, gate, sign, sync and promotion, and notifies subscribers', async () => {
    const layout = join(testDataDir(), 'img');
    const desc = await writeOciImage(layout, busyboxSpec({ user: '1000' }), 'v1');
    await pushImage(layout, 'v1', `${registryHost}/demo/app:v1`);
    const input: ChainInput = {
      registry: 'source',
      repository: 'demo/app',
      digest: desc.digest,
      tags: ['v1'],
      pushedAt: new Date().toISOString(),
      source: 'test',
    };
    const handle = await chain.client.workflow.start(deliveryChain, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `chain:source/demo/app@${desc.digest}`,
      args: [input],
    });
    const result: ChainStatus = await handle.result();
    await recordHistory('clean-push', handle, config.temporal.address as string);
    assert.equal(result.stage, 'done');
    assert.deepEqual((result.results.build as { platforms: unknown[] }).platforms.length, 1);

    assert.equal((result.results.gate as { allowed: boolean }).allowed, true);

    // Replicated digest for digest to the mirror, under the mapped repository, with its signature.
    assert.equal((await mirror.headManifest('eu/demo/app', desc.digest))?.digest, desc.digest);
    const report = await verifyImage(mirror, 'eu/demo/app', desc.digest, [publicKeyPem]);
    assert.equal(report.signedBy.length, 1, JSON.stringify(report.failures));
    assert.deepEqual(
      report.attestations
        .filter((a) => a.valid)
        .map((a) => a.predicateType)
        .sort(),
      [
        'https://cosign.sigstore.dev/attestation/vuln/v1',
        'https://cyclonedx.org/bom',
        'https://delivery-chain.dev/attestation/gate-decision/v1',
        'https://slsa.dev/verification_summary/v1',
      ],
    );
    // The verdict travels with the image: the mirror holds the VSA, PASSED, about this digest.
    const summary = report.attestations.find((a) => a.valid && a.predicateType === 'https://slsa.dev/verification_summary/v1')?.predicate as
      { verificationResult?: string; resourceUri?: string } | undefined;
    assert.equal(summary?.verificationResult, 'PASSED');
    assert.match(summary?.resourceUri ?? '', new RegExp(`^oci://.*@${desc.digest}$`));

    // The real cosign verifies the replicated signature with the public key alone.
    const pubFile = join(testDataDir(), 'cosign.pub');
    writeFileSync(pubFile, publicKeyPem);
    const cosign = spawnSync(
      requireTool('cosign', 'built by npm run setup -- --test (scripts/setup.ts GO_PEERS)'),
      [
        'verify',
        '--key',
        pubFile,
        '--insecure-ignore-tlog=true',
        '--allow-insecure-registry',
        '--allow-http-registry',
        `${mirrorHost}/eu/demo/app@${desc.digest}`,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(cosign.status, 0, cosign.stderr);

    const date = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    for (const tag of ['stable', `prod-${date}`]) {
      assert.equal((await mirror.headManifest('eu/demo/app', tag))?.digest, desc.digest, `tag ${tag} promoted in the mirror`);
    }
    assert.equal(await source.headManifest('demo/app', 'stable'), undefined, 'the source is not promoted');

    assert.equal(received.length, 1, 'exactly one notification');
    const [note] = received;
    const check = verifyNotification(SUBSCRIBER_SECRET, note!.body, note!.headers[SIGNATURE_HEADER] as string, Math.floor(Date.now() / 1000));
    assert.deepEqual(check, { valid: true });
    const body = JSON.parse(note!.body) as { event: string; digest: string; repository: string };
    assert.equal(body.event, 'distributed');
    assert.equal(body.digest, desc.digest);
    // Every notification's delivery is kept and listable (`dchain notifications log`).
    const configFile = join(testDataDir(), 'config.json');
    writeFileSync(configFile, JSON.stringify(config));
    const cli = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(__dirname, '..', '..', '..', 'cli', 'dchain.ts'), '--config', configFile, 'notifications', 'log', '--json'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(cli.status, 0, cli.stderr);
    const logged = (
      JSON.parse(cli.stdout) as { deliveries: Array<{ digest: string; subscriber: string; status: string; attempts: number; httpStatus: number }> }
    ).deliveries;
    assert.deepEqual(
      logged.filter((d) => d.digest === desc.digest).map((d) => [d.subscriber, d.status, d.httpStatus, d.attempts]),
      [['audit', 'delivered', 204, 1]],
    );

    const described = await handle.describe();
    assert.equal(described.searchAttributes.DcStage?.[0], 'done');
    assert.equal(described.searchAttributes.DcDigest?.[0], desc.digest);
  });

  it('blocks an image with a CRITICAL finding with the violations, and lets it through after a break-glass signal', async () => {
    const layout = join(testDataDir(), 'vulnerable');
    const desc = await writeOciImage(
      layout,
      busyboxSpec({
        user: '1000',
        extra: [
          { path: 'app', type: 'directory' },
          { path: 'app/package.json', content: JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { lodash: '4.17.11' } }) },
          { path: 'app/node_modules', type: 'directory' },
          { path: 'app/node_modules/lodash', type: 'directory' },
          { path: 'app/node_modules/lodash/package.json', content: JSON.stringify({ name: 'lodash', version: '4.17.11', license: 'MIT' }) },
        ],
      }),
      'v1',
    );
    await pushImage(layout, 'v1', `${registryHost}/demo/vulnerable:v1`);
    const input: ChainInput = {
      registry: 'source',
      repository: 'demo/vulnerable',
      digest: desc.digest,
      tags: ['v1'],
      pushedAt: new Date().toISOString(),
      source: 'test',
    };
    const workflowId = `chain:source/demo/vulnerable@${desc.digest}`;
    const denied = await chain.client.workflow.start(deliveryChain, { taskQueue: config.temporal.taskQueue, workflowId, args: [input] });
    const err = await denied.result().then(
      () => assert.fail('the gate should deny'),
      (e: unknown) => e as WorkflowFailedError,
    );
    const failure = err.cause as ApplicationFailure;
    assert.equal(failure.type, 'PolicyDenied');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /GHSA-jf85-cpcp-j695|CVE-2019-10744/);
    assert.ok(JSON.stringify(failure.details).includes('lodash'), 'the violations name the package');
    await recordHistory('policy-denied', denied, config.temporal.address as string);
    const blocked = await denied.query<ChainStatus>('status');
    assert.equal(blocked.stage, 'blocked');
    assert.equal((await denied.describe()).searchAttributes.DcVerdict?.[0], 'denied');
    // Nothing was signed, synced or promoted.
    assert.deepEqual((await source.listTags('demo/vulnerable')).sort(), ['v1']);
    assert.equal(await mirror.headManifest('eu/demo/vulnerable', desc.digest), undefined);
    const deniedNote = received.find((r) => r.body.includes(desc.digest));
    assert.equal((JSON.parse(deniedNote!.body) as { event: string }).event, 'denied');

    // Break-glass: ops signal the chain with who and why; a new run of the same chain goes through.
    const override = { actor: 'alice@example.com', reason: 'INC-1234: hotfix, lodash not reachable' };
    const { restarted, runId } = await breakGlass(chain.client, workflowId, override);
    assert.equal(restarted, true, 'the blocked chain ended; break-glass starts it again from its recorded input');
    const resumed = chain.client.workflow.getHandle(workflowId, runId);
    const result = (await resumed.result()) as ChainStatus;
    await recordHistory('break-glass', resumed, config.temporal.address as string);
    assert.equal(result.stage, 'done');
    assert.deepEqual(result.override, override);
    assert.equal((await resumed.describe()).searchAttributes.DcVerdict?.[0], 'overridden');
    const history = await resumed.fetchHistory();
    const signal = history.events?.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'breakGlass');
    assert.ok(signal, 'the override is in the workflow history');
    assert.equal((await mirror.headManifest('eu/demo/vulnerable', desc.digest))?.digest, desc.digest);
  });

  it('builds a Git push with buildah (multi-stage, setuid stripped) and carries it through the chain with SLSA provenance', async () => {
    const base = `${registryHost}/base/busybox:v1`;
    const baseLayout = join(testDataDir(), 'base');
    await writeOciImage(baseLayout, busyboxSpec(), 'v1');
    await pushImage(baseLayout, 'v1', base);
    const git = new GitFixture(testDataDir());
    const dockerfile = [
      `FROM ${base} AS builder`,
      'RUN mkdir -p /out && cp /bin/busybox /out/tool && chmod 4755 /out/tool && cp /bin/busybox /out/gtool && chmod 2755 /out/gtool',
      `FROM ${base}`,
      'COPY --from=builder /out/ /usr/local/bin/',
      'USER 1000',
      '',
    ].join('\n');
    const commit = git.commit({ Dockerfile: dockerfile }, 'release', 'release-2.0.0');
    const request = buildRequestFromPush(
      { repoUrl: `file://${git.bare}`, ref: 'refs/tags/release-2.0.0', commit, source: 'test' },
      [buildRuleSchema.parse({ ref: '^refs/tags/release-(?<version>.+)$', tags: ['${version}'] })],
      config.build.staging,
    );
    assert.ok(request, 'the rule matches the pushed tag');
    const { workflowId } = await startBuildChain(chain.client, config, request);
    const result = (await chain.client.workflow.getHandle(workflowId).result()) as ChainStatus;
    await recordHistory('source-build', chain.client.workflow.getHandle(workflowId), config.temporal.address as string);
    assert.equal(result.stage, 'done');
    const built = result.results.build as { digest: string; repository: string; multiStage: boolean; strippedSetuid: string[]; tags: string[] };
    assert.equal(built.multiStage, true);
    assert.deepEqual(built.strippedSetuid.sort(), ['/usr/local/bin/gtool', '/usr/local/bin/tool']);
    assert.deepEqual(built.tags, ['2.0.0']);
    const scan = result.results.scan as { hygiene: { setuidFiles: string[] } };
    assert.deepEqual(scan.hygiene.setuidFiles, [], 'the scanner finds no setuid/setgid file in the built image');

    const report = await verifyImage(mirror, `eu/${built.repository}`, built.digest, [publicKeyPem]);
    assert.equal(report.signedBy.length, 1, JSON.stringify(report.failures));
    const provenance = report.attestations.find((a) => a.predicateType === 'https://slsa.dev/provenance/v1');
    assert.ok(provenance?.valid, 'signed SLSA provenance travels with the image');
    assert.equal((await mirror.headManifest(`eu/${built.repository}`, '2.0.0'))?.digest, built.digest);
  });

  it('blocks a build that hardening refuses (runs as root) exactly as the gate blocks a denied image', async () => {
    const base = `${registryHost}/base/busybox:v1`;
    const baseLayout = join(testDataDir(), 'root-base');
    await writeOciImage(baseLayout, busyboxSpec(), 'v1');
    await pushImage(baseLayout, 'v1', base);
    // A second worker set on its own task queue, configured to refuse images that run as root.
    const strict = parseConfig({
      ...config,
      temporal: { ...config.temporal, taskQueue: `${config.temporal.taskQueue}-strict` },
      build: { ...config.build, hardening: { ...config.build.hardening, rootUser: 'refuse' } },
    });
    const strictChain = await useChainWorker(strict);
    const git = new GitFixture(testDataDir());
    const commit = git.commit({ Dockerfile: `FROM ${base}\nRUN echo built > /built\n` }, 'runs as root', 'release-3.0.0');
    const request = buildRequestFromPush(
      { repoUrl: `file://${git.bare}`, ref: 'refs/tags/release-3.0.0', commit, source: 'test' },
      [buildRuleSchema.parse({ ref: '^refs/tags/release-(?<version>.+)$', tags: ['${version}'] })],
      strict.build.staging,
    );
    assert.ok(request);
    const { workflowId } = await startBuildChain(strictChain.client, strict, request);
    const handle = strictChain.client.workflow.getHandle(workflowId);
    const err = await handle.result().then(
      () => assert.fail('the build should be refused'),
      (e: unknown) => e as WorkflowFailedError,
    );
    await recordHistory('build-denied', handle, strict.temporal.address as string);
    // The same end as a gate denial (the test above): a non-retryable PolicyDenied failure, stage blocked, verdict denied.
    const failure = err.cause as ApplicationFailure;
    assert.equal(failure.type, 'PolicyDenied');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /runs as root/);
    const status = await handle.query<ChainStatus>('status');
    assert.equal(status.stage, 'blocked');
    assert.equal(status.failedAt, undefined);
    assert.equal((await handle.describe()).searchAttributes.DcVerdict?.[0], 'denied');
    const violations = (status.results.build as { violations: Array<{ rule: string; enforced: boolean }> }).violations;
    assert.deepEqual(
      violations.map((v) => [v.rule, v.enforced]),
      [['build.hardening.rootUser', true]],
    );
  });

  it('fails for good, without retrying, on bad input (a registry that is not configured)', async () => {
    const digest = `sha256:${'0'.repeat(64)}`;
    const handle = await chain.client.workflow.start(deliveryChain, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `chain:elsewhere/demo/app@${digest}`,
      args: [{ registry: 'elsewhere', repository: 'demo/app', digest, tags: [], pushedAt: new Date().toISOString(), source: 'test' }],
    });
    const err = await handle.result().then(
      () => assert.fail('the chain should fail'),
      (e: unknown) => e as WorkflowFailedError,
    );
    assert.ok(err instanceof WorkflowFailedError);
    const failure = (err.cause as ActivityFailure).cause as ApplicationFailure;
    assert.equal(failure.type, 'BAD_INPUT');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /no registry named "elsewhere"/);
    await recordHistory('bad-input', handle, config.temporal.address as string);
    const status = await handle.query<ChainStatus>('status');
    assert.equal(status.stage, 'failed');
    assert.equal(status.failedAt, 'build');
    const memo = (await handle.describe()).memo as { summary?: string } | undefined;
    assert.match(memo?.summary ?? '', /failed in build — BAD_INPUT: no registry named "elsewhere"/);
    let attempts = 0;
    for (const event of (await handle.fetchHistory()).events ?? []) {
      if (event.activityTaskStartedEventAttributes) attempts = Math.max(attempts, event.activityTaskStartedEventAttributes.attempt ?? 0);
    }
    assert.equal(attempts, 1, 'one attempt only');
  });
});
