import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { parseConfig } from '../../../src/config/load';
import { type DeploymentRecord, InventoryStore, KubeApi, kubeApiSettings, watchPods } from '../../../src/inventory';
import { createLogger } from '../../../src/log/logger';
import { type ControlPlane, createNamespace, useControlPlane } from '../../support/kube';
import { onCleanup, testDataDir, useRedis } from '../../support/services';
import { deployWorkloads, inventoryAccess, until } from './inventory-support';

const run = promisify(execFile);
const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const NS = 'shop';

/**
 * The pod watcher against a real kube-apiserver, with the service account and RBAC shipped in
 * deploy/kubernetes/: records digest → cluster, namespace, owner workload; removes deleted pods;
 * a restarted watcher's full list removes what was deleted while it was away.
 */
void describe('inventory: the pod watcher over kube-apiserver', { timeout: 600_000 }, async () => {
  const dir = testDataDir('dchain-inventory-');
  let cp: ControlPlane;
  let redis: Redis;
  let store: InventoryStore;
  let configFile: string;
  let api: KubeApi;
  const syncs: Array<{ pods: number; removed: number; resourceVersion: string }> = [];

  const startWatcher = () => {
    const stop = new AbortController();
    const done = watchPods(
      { cluster: 'eu-1', api, store, logger: createLogger({ level: 'silent' }), watchTimeoutSeconds: 30, onSynced: (s) => syncs.push(s) },
      stop.signal,
    );
    const halt = async () => {
      stop.abort();
      await done;
    };
    onCleanup(halt);
    return halt;
  };
  const deployedAt = (d: string) => store.deployments(d);
  const summary = (records: DeploymentRecord[]) => records.map((r) => `${r.cluster}/${r.namespace}/${r.owner.kind}/${r.owner.name}/${r.pod}`);

  before(async () => {
    const [controlPlane, redisServer] = await Promise.all([useControlPlane(join(dir, 'kube')), useRedis(join(dir, 'redis'))]);
    cp = controlPlane;
    redis = new Redis(redisServer.url);
    onCleanup(() => redis.disconnect());
    store = new InventoryStore(redis);
    const access = await inventoryAccess(cp, dir);
    const raw = { redis: { url: redisServer.url }, inventory: { cluster: 'eu-1', kubernetes: access } };
    configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(raw));
    api = new KubeApi(kubeApiSettings(parseConfig(raw).inventory));
    await createNamespace(cp, NS);
  });

  void it('lists pods already there and watches new ones, naming the Deployment, CronJob or Pod that owns them', async () => {
    await cp.kubectl(['run', 'before', '-n', NS, `--image=registry.example/team/early@${digest(1)}`]);
    const halt = startWatcher();
    assert.deepEqual(summary(await until('the listed pod', async () => ((await deployedAt(digest(1))).length ? deployedAt(digest(1)) : undefined))), [
      'eu-1/shop/Pod/before/before',
    ]);
    assert.equal(syncs[0]?.pods, 1);

    await deployWorkloads(cp, NS, {
      deployment: `registry.example/team/web@${digest(2)}`,
      cronjob: `registry.example/team/batch@${digest(3)}`,
      pod: `registry.example/team/web@${digest(2)}`,
    });
    const web = await until('the watched pods', async () => {
      const r = await deployedAt(digest(2));
      return r.length === 2 ? r : undefined;
    });
    assert.deepEqual(summary(web).sort(), ['eu-1/shop/Deployment/web/web-7d4b9c-x2x9z', 'eu-1/shop/Pod/solo/solo']);
    const batch = await until('the CronJob pod', async () => ((await deployedAt(digest(3))).length ? deployedAt(digest(3)) : undefined));
    assert.deepEqual(summary(batch), ['eu-1/shop/CronJob/nightly/nightly-29410-abcde']);
    const first = web.find((r) => r.pod === 'solo')!;
    assert.equal(first.owner.apiVersion, 'v1');
    assert.match(first.owner.uid, /^[0-9a-f-]{36}$/);
    assert.deepEqual(first.containers, ['app']);
    assert.ok(Date.parse(first.firstSeen) <= Date.parse(first.lastSeen));

    // `dchain images deployments <digest>` shows it, as a table and as JSON.
    const cli = (args: string[]) =>
      run(
        process.execPath,
        ['--import', 'tsx', join(__dirname, '..', '..', '..', 'cli', 'dchain.ts'), '--config', configFile, 'images', 'deployments', ...args],
        { encoding: 'utf8', timeout: 60_000 },
      );
    const json = JSON.parse((await cli([digest(2), '--json'])).stdout) as { digest: string; deployments: DeploymentRecord[] };
    assert.equal(json.digest, digest(2));
    assert.deepEqual(summary(json.deployments).sort(), summary(web).sort());
    const table = (await cli([digest(3)])).stdout;
    assert.match(table, /eu-1 +│? *shop +│? *CronJob\/nightly +│? *nightly-29410-abcde/);
    assert.match((await cli([digest(9)])).stdout, /runs in no pod the inventory knows/);
    await assert.rejects(
      cli(['latest']),
      (err: { stderr: string; code: number }) => err.code === 1 && /BAD_INPUT: "latest" is not an image digest/.test(err.stderr),
    );

    // A deleted pod goes.
    const deleted = await cp.kubectl(['delete', 'pod', 'solo', '-n', NS, '--wait=false']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.deepEqual(summary(await until('the deletion', async () => ((await deployedAt(digest(2))).length === 1 ? deployedAt(digest(2)) : undefined))), [
      'eu-1/shop/Deployment/web/web-7d4b9c-x2x9z',
    ]);
    await halt();

    // Deleted while no watcher ran: the next watcher's full list removes it, and keeps first-seen times.
    assert.equal((await cp.kubectl(['delete', 'pod', 'before', '-n', NS, '--wait=false'])).code, 0);
    const synced = syncs.length;
    const halt2 = startWatcher();
    await until('the resync', async () => (syncs.length > synced ? true : undefined));
    assert.deepEqual([syncs[synced]?.pods, syncs[synced]?.removed], [2, 1]);
    assert.deepEqual(await deployedAt(digest(1)), []);
    const again = (await deployedAt(digest(2)))[0]!;
    assert.equal(again.firstSeen, web.find((r) => r.pod !== 'solo')!.firstSeen);
    await halt2();
  });
});
