import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { parseConfig } from '../../../src/config/load';
import { type Config } from '../../../src/config/schema';
import { InventoryStore, KubeApi, kubeApiSettings, watchPods } from '../../../src/inventory';
import { createLogger } from '../../../src/log/logger';
import { admissionDepsFromConfig, buildAdmissionServer } from '../../../src/policy/admission';
import { generateKeyPair } from '../../../src/signing';
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
import { deployWorkloads, inventoryAccess, until } from './inventory-support';
import { type ChainInput, type ChainStatus } from '../../../src/chain';

const KEY_PASSWORD = 'inventory-test-key-password';
const OSV_NPM = join(__dirname, '..', '..', 'fixtures', 'osv', 'npm');
// Real OSV records: minimist CVE-2020-7598 (MODERATE) at first; lodash CVE-2019-10744 (CRITICAL) arrives later.
const MINIMIST_MODERATE = 'GHSA-vh95-rmgr-6w4m.json';
const LODASH_CRITICAL = 'GHSA-jf85-cpcp-j695.json';
const NS = 'shop';

/**
 * Replace what became dangerous: an allowed, signed image runs in a Deployment, a CronJob and a bare
 * Pod of a real API server; a new advisory makes the rescan deny it; the owners get ImageVulnerable
 * Events (kubectl shows them), the subscriber's notification lists the workloads, and admission
 * refuses a new pod of that digest while the running ones stay.
 */
void describe('rescan of a deployed image: ImageVulnerable events, workloads in the notification, new pods refused', { timeout: 900_000 }, async () => {
  const dir = testDataDir('dchain-inventory-rescan-');
  let cp: ControlPlane;
  let config: Config;
  let chain: RunningChainWorker;
  let subscriber: TestSubscriber;
  let registryHost: string;
  let osvDir: string;
  let digest: string;
  let store: InventoryStore;

  before(async () => {
    const controlPlane = useControlPlane(join(dir, 'kube'));
    const [temporal, redisServer, registry, mirror, tls] = await Promise.all([useTemporal(dir), useRedis(join(dir, 'redis')), useRegistry({ name: 'source', dataDir: dir }), useRegistry({ name: 'mirror', dataDir: dir }), selfSignedCert(dir)]);
    registryHost = registry.host;
    writeFileSync(join(dir, 'tls.crt'), tls.cert);
    writeFileSync(join(dir, 'tls.key'), tls.key);
    const keys = await generateKeyPair(KEY_PASSWORD);
    writeFileSync(join(dir, 'cosign.key'), keys.privateKeyPem, { mode: 0o600 });
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
    config = parseConfig({
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
    });
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
    const handle = await chain.client.workflow.start(deliveryChain, { taskQueue: config.temporal.taskQueue, workflowId: `chain:source/demo/shop@${digest}`, args: [input] });
    assert.equal(((await handle.result()) as ChainStatus).stage, 'done');

    // Admission through the API server, and the pod watcher, as a cluster runs them.
    const admission: FastifyInstance = await buildAdmissionServer(admissionDepsFromConfig(config, redis, createLogger({ level: 'silent' })));
    await admission.listen({ host: '127.0.0.1', port: 0 });
    onCleanup(() => admission.close());
    await applyAdmissionManifests(cp, `https://127.0.0.1:${(admission.server.address() as AddressInfo).port}`, tls);
    await createNamespace(cp, NS);
    await waitForWebhook(cp, NS, `${registryHost}/demo/shop:v1`);
    const stop = new AbortController();
    const watching = watchPods({ cluster: 'eu-1', api: new KubeApi(kubeApiSettings(config.inventory)), store, logger: createLogger({ level: 'silent' }) }, stop.signal);
    onCleanup(async () => {
      stop.abort();
      await watching;
    });
  });

  void it('posts ImageVulnerable on each owner workload, lists them to subscribers, and refuses new pods of the digest', async () => {
    const image = `${registryHost}/demo/shop@${digest}`;
    await deployWorkloads(cp, NS, { deployment: image, cronjob: image, pod: image });
    await until('the inventory', async () => ((await store.deployments(digest)).length === 3 ? true : undefined));

    copyFileSync(join(OSV_NPM, LODASH_CRITICAL), join(osvDir, LODASH_CRITICAL));
    const handle = await chain.client.workflow.start(rescan, { taskQueue: config.temporal.taskQueue, workflowId: `rescan-inventory-${Date.now()}`, args: [rescanSettings(config)] });
    const summary = await handle.result();
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
    const note = subscriber.received.map((r) => JSON.parse(r.body) as { event: string; digest: string; deployments?: Array<{ cluster: string; namespace: string; kind: string; name: string; pods: string[] }> }).find((b) => b.event === 'rescan.denied' && b.digest === digest);
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
  });
});
