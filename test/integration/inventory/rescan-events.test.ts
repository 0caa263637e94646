import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { parseConfig } from '../../../src/config/load';
import { type Config } from '../../../src/config/schema';
import { InventoryStore, KubeApi, kubeApiSettings, watchPods } from '../../../src/inventory';
import { createLogger } from '../../../src/log/logger';
import { admissionDepsFromConfig } from '../../../src/policy/admission';
import { RegistryClient } from '../../../src/registry';
import { type buildVsa, generateKeyPair, verifyImage, VSA_PREDICATE_TYPE } from '../../../src/signing';
import { rescanSettings } from '../../../workers/temporal/schedules';
import { deliveryChain } from '../../../workflows/delivery-chain';
import { rescan } from '../../../workflows/rescan';
import { useChainWorker, type RunningChainWorker } from '../../support/chain-worker';
import { busyboxSpec, pushImage, writeOciImage } from '../../support/images';
import { type ControlPlane, createNamespace, useControlPlane } from '../../support/kube';
import { onCleanup, testDataDir, useRedis, useRegistry, useTemporal } from '../../support/services';
import { type TestSubscriber, useSubscriber } from '../../support/subscriber';
import { selfSignedCert } from '../policy/admission-support';
import { apply, applyAdmissionManifests, waitForWebhook, WEBHOOK, workload } from '../policy/kube-support';
import { deployWorkloads, inventoryAccess, until, type Webhook, webhookServer } from './inventory-support';
import { type ChainInput, type ChainStatus } from '../../../src/chain';

const KEY_PASSWORD = 'inventory-test-key-password';
const OSV_NPM = join(__dirname, '..', '..', 'fixtures', 'osv', 'npm');
// Real OSV records: minimist CVE-2020-7598 (MODERATE) at first; lodash CVE-2019-10744 (CRITICAL) arrives later.
const MINIMIST_MODERATE = 'GHSA-vh95-rmgr-6w4m.json';
const LODASH_CRITICAL = 'GHSA-jf85-cpcp-j695.json';
const NS = 'shop';

// Registry-only admission's VSA max age here: long enough to admit a pod after the first rescan, short for a test.
const SUMMARY_MAX_AGE_S = 45;

type VsaPredicate = ReturnType<typeof buildVsa>;

/**
 * Replace what became dangerous: an allowed, signed image runs in a Deployment, a CronJob and a bare
 * Pod of a real API server; a new advisory makes the rescan deny it; the owners get ImageVulnerable
 * Events (kubectl shows them), the subscriber's notification lists the workloads, and admission
 * refuses a new pod of that digest while the running ones stay — in both admission modes: with the
 * decision store at once; registry-only (no Redis) from the FAILED VSA the rescan attached, and a
 * webhook that cached the earlier PASSED one within its VSA max age.
 */
void describe('rescan of a deployed image: ImageVulnerable events, workloads in the notification, new pods refused', { timeout: 900_000 }, async () => {
  const dir = testDataDir('dchain-inventory-rescan-');
  let cp: ControlPlane;
  let config: Config;
  let chain: RunningChainWorker;
  let subscriber: TestSubscriber;
  let registryHost: string;
  let mirrorHost: string;
  let osvDir: string;
  let digest: string;
  let store: InventoryStore;
  let tls: { cert: string; key: string };
  let decisionStoreWebhook: Webhook;
  /** A registry-only webhook process's answers (no Redis), with `summaryMaxAge` short. */
  const registryOnly = async (): Promise<Webhook> => {
    const roConfig = parseConfig({
      ...rawConfig,
      policy: { ...rawConfig.policy, admission: { ...rawConfig.policy.admission, mode: 'registry-only', summaryMaxAge: `${SUMMARY_MAX_AGE_S}s` } },
    });
    return webhookServer(admissionDepsFromConfig(roConfig, undefined, createLogger({ level: 'silent' })));
  };
  /** Points the API server's webhook at `webhook` and waits until the API server calls it. */
  const switchTo = async (webhook: Webhook) => {
    await applyAdmissionManifests(cp, webhook.url, tls);
    const before = webhook.calls();
    await until('the API server calling the new webhook', async () => {
      await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], {
        input: JSON.stringify(workload('Pod', 'probe', NS, [{ name: 'probe', image: `${registryHost}/demo/shop:v1` }])),
      });
      return webhook.calls() > before ? true : undefined;
    });
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let rawConfig: Record<string, any>;

  before(async () => {
    const controlPlane = useControlPlane(join(dir, 'kube'));
    const [temporal, redisServer, registry, mirror, cert] = await Promise.all([
      useTemporal(dir),
      useRedis(join(dir, 'redis')),
      useRegistry({ name: 'source', dataDir: dir }),
      useRegistry({ name: 'mirror', dataDir: dir }),
      selfSignedCert(dir),
    ]);
    registryHost = registry.host;
    mirrorHost = mirror.host;
    tls = cert;
    writeFileSync(join(dir, 'tls.crt'), tls.cert);
    writeFileSync(join(dir, 'tls.key'), tls.key);
    const keys = await generateKeyPair(KEY_PASSWORD);
    writeFileSync(join(dir, 'cosign.key'), keys.privateKeyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'cosign.pub'), keys.publicKeyPem);
    process.env.INVENTORY_TEST_KEY_PASSWORD = KEY_PASSWORD;
    osvDir = join(dir, 'osv');
    mkdirSync(osvDir, { recursive: true });
    copyFileSync(join(OSV_NPM, MINIMIST_MODERATE), join(osvDir, MINIMIST_MODERATE));
    const policyFile = join(dir, 'policy.json');
    writeFileSync(
      policyFile,
      JSON.stringify({
        apiVersion: 'policy.delivery-chain.dev/v1',
        kind: 'ImagePolicy',
        metadata: { name: 'inventory-test', version: '1' },
        mode: 'enforce',
        trustedKeys: [{ id: 'chain', publicKey: keys.publicKeyPem }],
        rules: [{ name: 'no-critical', vulnerabilities: { maxSeverity: { fixable: 'HIGH', unfixable: 'HIGH' } } }],
      }),
    );
    subscriber = await useSubscriber();
    cp = await controlPlane;
    const access = await inventoryAccess(cp, dir);
    rawConfig = {
      dataDir: dir,
      temporal: { address: temporal.address, taskQueue: `inventory-${process.pid}` },
      redis: { url: redisServer.url },
      registries: [
        { name: 'source', url: registry.url },
        { name: 'mirror', url: mirror.url },
      ],
      sources: [{ name: 'source', registry: 'source', secret: 'webhook-secret-0123456789' }],
      sync: { targets: [{ registry: 'mirror' }] },
      scan: { osv: { directory: osvDir } },
      policy: { file: policyFile, admission: { tlsCertFile: join(dir, 'tls.crt'), tlsKeyFile: join(dir, 'tls.key') } },
      signing: { key: { kind: 'file', path: join(dir, 'cosign.key'), passwordEnv: 'INVENTORY_TEST_KEY_PASSWORD' } },
      distribute: { subscribers: [{ name: 'ops', url: subscriber.url, secret: 'inventory-subscriber-secret' }] },
      rescan: { interval: '3650d' },
      inventory: { cluster: 'eu-1', kubernetes: access },
    };
    config = parseConfig(rawConfig);
    chain = await useChainWorker(config);
    const redis = new Redis(redisServer.url);
    onCleanup(() => redis.disconnect());
    store = new InventoryStore(redis);

    // The image goes through the chain on data that allows it: scanned, gated, signed, synced.
    const layout = join(dir, 'app');
    const spec = busyboxSpec({
      user: '1000',
      extra: [
        { path: 'app', type: 'directory' },
        { path: 'app/package.json', content: JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { lodash: '4.17.11' } }) },
        { path: 'app/node_modules', type: 'directory' },
        { path: 'app/node_modules/lodash', type: 'directory' },
        { path: 'app/node_modules/lodash/package.json', content: JSON.stringify({ name: 'lodash', version: '4.17.11', license: 'MIT' }) },
      ],
    });
    digest = (await writeOciImage(layout, spec, 'v1')).digest;
    await pushImage(layout, 'v1', `${registryHost}/demo/shop:v1`);
    const input: ChainInput = { registry: 'source', repository: 'demo/shop', digest, tags: ['v1'], pushedAt: new Date().toISOString(), source: 'test' };
    const handle = await chain.client.workflow.start(deliveryChain, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `chain:source/demo/shop@${digest}`,
      args: [input],
    });
    assert.equal(((await handle.result()) as ChainStatus).stage, 'done');

    // Admission through the API server, and the pod watcher, as a cluster runs them.
    decisionStoreWebhook = await webhookServer(admissionDepsFromConfig(config, redis, createLogger({ level: 'silent' })));
    await applyAdmissionManifests(cp, decisionStoreWebhook.url, tls);
    await createNamespace(cp, NS);
    await waitForWebhook(cp, NS, `${registryHost}/demo/shop:v1`);
    const stop = new AbortController();
    const watching = watchPods(
      { cluster: 'eu-1', api: new KubeApi(kubeApiSettings(config.inventory)), store, logger: createLogger({ level: 'silent' }) },
      stop.signal,
    );
    onCleanup(async () => {
      stop.abort();
      await watching;
    });
  });

  void it('posts ImageVulnerable on each owner workload, lists them to subscribers, and refuses new pods of the digest in both admission modes', async () => {
    const image = `${registryHost}/demo/shop@${digest}`;
    await deployWorkloads(cp, NS, { deployment: image, cronjob: image, pod: image });
    await until('the inventory', async () => ((await store.deployments(digest)).length === 3 ? true : undefined));

    // A rescan that re-confirms the verdict attaches a fresh PASSED VSA in the source and the mirror.
    const confirmed = await runRescan();
    assert.deepEqual([confirmed.unchanged, confirmed.problems], [1, []], JSON.stringify(confirmed));
    const passed = await newestSummaries();
    assert.deepEqual(
      passed.map((v) => v.verificationResult),
      ['PASSED', 'PASSED'],
    );
    for (const v of passed) assert.ok(Date.parse(v.timeVerified) >= Date.parse(confirmed.startedAt), `a fresh summary (${v.timeVerified})`);
    const reconfirmedAt = Date.parse(passed[0]!.timeVerified);
    // A registry-only webhook admits a new pod on it (and caches the PASSED summary).
    const warm = await registryOnly();
    await switchTo(warm);
    const admitted = await dryRun(workload('Pod', 'regional', NS, [{ name: 'app', image }]));
    assert.equal(admitted.code, 0, admitted.stderr);
    await switchTo(decisionStoreWebhook);

    copyFileSync(join(OSV_NPM, LODASH_CRITICAL), join(osvDir, LODASH_CRITICAL));
    const summary = await runRescan();
    assert.deepEqual([summary.changedToDenied, summary.notified, summary.problems], [1, 1, []], JSON.stringify(summary));

    // kubectl shows a Warning ImageVulnerable event on the Deployment, the CronJob and the Pod, naming the finding.
    const events = await cp.kubectl(['get', 'events', '-n', NS, '--field-selector', 'reason=ImageVulnerable', '-o', 'json']);
    assert.equal(events.code, 0, events.stderr);
    const items = (JSON.parse(events.stdout) as { items: Array<{ type: string; message: string; involvedObject: { kind: string; name: string } }> }).items;
    assert.deepEqual(items.map((e) => `${e.involvedObject.kind}/${e.involvedObject.name}`).sort(), ['CronJob/nightly', 'Deployment/web', 'Pod/solo']);
    for (const e of items) {
      assert.equal(e.type, 'Warning');
      assert.match(e.message, new RegExp(`image ${digest} is now denied by policy; replace it: .*(GHSA-jf85-cpcp-j695|CVE-2019-10744).*lodash`));
    }
    const described = await cp.kubectl(['describe', 'deployment', 'web', '-n', NS]);
    assert.match(described.stdout, /Warning\s+ImageVulnerable\s+.*delivery-chain\s+image sha256:[0-9a-f]{64} is now denied by policy/);

    // The subscriber's notification lists the workloads.
    const note = subscriber.received
      .map(
        (r) =>
          JSON.parse(r.body) as {
            event: string;
            digest: string;
            deployments?: Array<{ cluster: string; namespace: string; kind: string; name: string; pods: string[] }>;
          },
      )
      .find((b) => b.event === 'rescan.denied' && b.digest === digest);
    assert.deepEqual(note?.deployments?.map((d) => `${d.cluster}/${d.namespace}/${d.kind}/${d.name}/${d.pods.join(',')}`).sort(), [
      'eu-1/shop/CronJob/nightly/nightly-29410-abcde',
      'eu-1/shop/Deployment/web/web-7d4b9c-x2x9z',
      'eu-1/shop/Pod/solo/solo',
    ]);

    // A new pod of that digest is refused; the running ones are reported, not removed.
    const refused = await apply(cp, workload('Pod', 'another', NS, [{ name: 'app', image }]));
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, new RegExp(`admission webhook "${WEBHOOK}" denied the request: containers\\[app\\]: .*is denied by policy inventory-test:1`));
    assert.equal((await cp.kubectl(['get', 'pod', 'solo', '-n', NS])).code, 0);
    assert.equal((await store.deployments(digest)).length, 3);

    // Registry-only: the rescan attached a FAILED summary in the source and the mirror, which a webhook
    // reading the registry refuses at once, from either registry.
    assert.deepEqual(
      (await newestSummaries()).map((v) => v.verificationResult),
      ['FAILED', 'FAILED'],
    );
    const cold = await registryOnly();
    await switchTo(cold);
    for (const [name, ref] of [
      ['fresh-source', image],
      ['fresh-mirror', `${mirrorHost}/demo/shop@${digest}`],
    ] as const) {
      const res = await dryRun(workload('Pod', name, NS, [{ name: 'app', image: ref }]));
      assert.notEqual(res.code, 0, `${name} created`);
      assert.match(
        res.stderr,
        new RegExp(
          `admission webhook "${WEBHOOK}" denied the request: containers\\[app\\]: .*@${digest} failed verification: its newest summary .* says FAILED`,
        ),
      );
    }
    // The webhook that cached the PASSED summary refuses new pods once that summary is older than the max age.
    await switchTo(warm);
    const refusedLate = await until(
      'the cached PASSED summary to expire',
      async () => {
        const res = await dryRun(workload('Pod', 'late', NS, [{ name: 'app', image }]));
        return res.code === 0 ? undefined : { res, at: Date.now() };
      },
      (SUMMARY_MAX_AGE_S + 60) * 1000,
    );
    assert.match(
      refusedLate.res.stderr,
      new RegExp(
        `admission webhook "${WEBHOOK}" denied the request: containers\\[app\\]: .*@${digest} has no recent verification: its newest summary is from .*, older than ${SUMMARY_MAX_AGE_S} s`,
      ),
    );
    // Within the max age, plus the webhook's 5 s verdict cache and the time of one kubectl call.
    assert.ok(
      refusedLate.at - reconfirmedAt <= (SUMMARY_MAX_AGE_S + 15) * 1000,
      `refused ${Math.round((refusedLate.at - reconfirmedAt) / 1000)} s after the summary`,
    );
  });

  // Admission runs on a server-side dry run too; nothing is created, so the inventory stays as deployed.
  const dryRun = (object: Record<string, unknown>) => cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: JSON.stringify(object) });
  const runRescan = async () => {
    const handle = await chain.client.workflow.start(rescan, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `rescan-inventory-${Date.now()}`,
      args: [rescanSettings(config)],
    });
    return handle.result();
  };
  /** The newest VSA by the chain's key on the digest in the source, then in the mirror. */
  const newestSummaries = async () => {
    const keys = [readFileSync(join(dir, 'cosign.pub'), 'utf8')];
    const out: VsaPredicate[] = [];
    for (const reg of config.registries) {
      const report = await verifyImage(RegistryClient.fromConfig(reg), 'demo/shop', digest, keys);
      const summaries = report.attestations.filter((a) => a.valid && a.predicateType === VSA_PREDICATE_TYPE).map((a) => a.predicate as VsaPredicate);
      assert.equal(summaries.length, 1, `one summary by the key in ${reg.name}`);
      out.push(summaries[0]!);
    }
    return out;
  };
});
