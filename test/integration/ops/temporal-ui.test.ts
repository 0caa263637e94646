import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { type Client, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { parseConfig } from '../../../src/config/load';
import { type Config } from '../../../src/config/schema';
import { cosignTag, RegistryClient } from '../../../src/registry';
import { generateKeyPair } from '../../../src/signing';
import { type LocalRegistry } from '../../../workers/local/registry-server';
import { type ChainInput, type ChainStatus, chainWorkflowId } from '../../../src/chain';
import { deliveryChain } from '../../../workflows/delivery-chain';
import { DcFailedStage, DcStage } from '../../../workflows/search-attributes';
import { type TestBrowser, useBrowser } from '../../support/browser';
import { useChainWorker, type RunningChainWorker } from '../../support/chain-worker';
import { recordHistory } from '../../support/histories';
import { busyboxSpec, pushImage, writeOciImage } from '../../support/images';
import { testDataDir, useRedis, useRegistry, useTemporal } from '../../support/services';
import { type TestSubscriber, useSubscriber } from '../../support/subscriber';

const KEY_PASSWORD = 'ops-ui-test-key-password';
/** What the runbook tells ops to type into the Temporal UI's query box. */
const FAILED_IN_SYNC = 'DcFailedStage = "sync" AND ExecutionStatus = "Failed"';

/**
 * The runbook, done by a browser in the Temporal Web UI of a real dev server: a chain fails in sync
 * because its mirror is down; ops find it by its search attributes, open it, bring the mirror back and
 * Reset the run to the workflow task before the sync activity; the chain completes without a second
 * signature or attestation. Screenshots go to test-artifacts/temporal-ui/ (the README shows copies).
 * The controls are found by role, label and test id as the Web UI embedded in the pinned Temporal CLI
 * renders them (CLI 1.9.1: UI 2.54.1); a CLI upgrade may move them.
 */
describe('ops in the Temporal UI: a chain failed in sync, found and reset in a real browser', () => {
  let config: Config;
  let chain: RunningChainWorker;
  let source: RegistryClient;
  let mirror: RegistryClient;
  let mirrorRegistry: LocalRegistry;
  let registryHost: string;
  let uiUrl: string;
  let subscriber: TestSubscriber;
  let ui: TestBrowser;

  before(async () => {
    const dataDir = testDataDir();
    const [temporal, redis, registry, mirrored] = await Promise.all([
      useTemporal(dataDir, { ui: true }),
      useRedis(dataDir),
      useRegistry({ name: 'source', dataDir }),
      useRegistry({ name: 'mirror', dataDir }),
    ]);
    assert.ok(temporal.uiUrl, 'the dev server serves its Web UI');
    uiUrl = temporal.uiUrl;
    mirrorRegistry = mirrored;
    registryHost = registry.host;
    const keys = await generateKeyPair(KEY_PASSWORD);
    writeFileSync(join(dataDir, 'cosign.key'), keys.privateKeyPem, { mode: 0o600 });
    process.env.OPS_UI_TEST_KEY_PASSWORD = KEY_PASSWORD;
    const osvDir = join(dataDir, 'osv');
    mkdirSync(osvDir, { recursive: true });
    subscriber = await useSubscriber();
    config = parseConfig({
      dataDir,
      temporal: { address: temporal.address, taskQueue: `ops-ui-${process.pid}` },
      redis: { url: redis.url },
      registries: [
        { name: 'source', url: registry.url },
        { name: 'mirror', url: mirrored.url },
      ],
      sources: [{ name: 'source', registry: 'source', secret: 'webhook-secret-0123456789' }],
      sync: { targets: [{ registry: 'mirror', repositoryPrefix: 'eu/' }] },
      scan: { osv: { directory: osvDir } },
      // No vulnerability data here: the built-in policy would deny for that; this test is about operating failed runs.
      policy: { mode: 'dry-run' },
      signing: { key: { kind: 'file', path: join(dataDir, 'cosign.key'), passwordEnv: 'OPS_UI_TEST_KEY_PASSWORD' } },
      distribute: { promoteTags: ['stable'], subscribers: [{ name: 'audit', url: subscriber.url, secret: 'subscriber-secret-0123456789' }] },
    });
    source = RegistryClient.fromConfig(config.registries[0]!);
    mirror = RegistryClient.fromConfig(config.registries[1]!);
    chain = await useChainWorker(config);
    ui = await useBrowser('temporal-ui');
  });

  const pushed = async (repository: string, marker: string): Promise<{ input: ChainInput; workflowId: string }> => {
    const layout = join(testDataDir(), marker);
    const desc = await writeOciImage(layout, busyboxSpec({ user: '1000', extra: [{ path: 'marker.txt', content: marker }] }), 'v1');
    await pushImage(layout, 'v1', `${registryHost}/${repository}:v1`);
    const input: ChainInput = { registry: 'source', repository, digest: desc.digest, tags: ['v1'], pushedAt: new Date().toISOString(), source: 'test' };
    return { input, workflowId: chainWorkflowId(input) };
  };
  const layers = async (client: RegistryClient, repository: string, digest: string, kind: 'sig' | 'att') =>
    ((await client.getManifest(repository, cosignTag(digest, kind))).manifest as { layers: unknown[] }).layers.length;
  const distributed = (digest: string) =>
    subscriber.received.map((n) => JSON.parse(n.body) as { event: string; digest: string }).filter((n) => n.digest === digest && n.event === 'distributed')
      .length;

  it(
    'ops find the chain by DcFailedStage, open it, bring the mirror back and Reset it before sync: it completes once, nothing doubled',
    { timeout: 900_000 },
    () =>
      // What the browser showed when a step failed is kept next to the other screenshots.
      onFailure(
        () => ui.screenshot('failure'),
        async () => {
          const { input, workflowId } = await pushed('demo/ops', 'ops-ui');
          // The sync target is down for this chain: sync retries with backoff, then the run fails in sync.
          await mirrorRegistry.process.stop();
          const handle = await chain.client.workflow.start(deliveryChain, { taskQueue: config.temporal.taskQueue, workflowId, args: [input] });
          const failure = await handle.result().then(
            () => assert.fail('the chain completed with its mirror down'),
            (err: unknown) => err,
          );
          assert.ok(failure instanceof WorkflowFailedError, String(failure));
          const failedRunId = (await handle.describe()).runId;
          await recordHistory('failed-in-sync', handle, config.temporal.address as string);

          // What the runbook's query finds: DcStage says failed, DcFailedStage where.
          const described = await handle.describe();
          assert.equal(described.typedSearchAttributes.get(DcStage), 'failed');
          assert.equal(described.typedSearchAttributes.get(DcFailedStage), 'sync');
          assert.deepEqual(await listed(chain.client, FAILED_IN_SYNC, workflowId), [failedRunId]);
          assert.deepEqual(await listed(chain.client, `DcFailedStage = "scan" AND WorkflowId = "${workflowId}"`, workflowId, 0), []);
          const signaturesBefore = await layers(source, 'demo/ops', input.digest, 'sig');
          const attestationsBefore = await layers(source, 'demo/ops', input.digest, 'att');
          assert.equal(signaturesBefore, 1);

          // 1. The Workflows page, filtered with the query typed into the UI's query box.
          const { page, screenshot } = ui;
          await page.goto(`${uiUrl}/namespaces/default/workflows`);
          await page.getByTestId('toggle-manual-query').click();
          await page.getByTestId('workflow-manual-search-input').fill(FAILED_IN_SYNC);
          await page.getByTestId('workflow-manual-search-input').press('Enter');
          const row = page.getByRole('link', { name: workflowId, exact: true }).first();
          await row.waitFor();
          await screenshot('01-failed-chains');

          // 2. The failed run: its failure names the stage's activity and the unreachable mirror.
          await row.click();
          await page.waitForURL((url) => url.pathname.includes(failedRunId));
          await page.getByRole('heading', { name: workflowId }).first().waitFor();
          await page.getByText('Activity task failed').first().waitFor();
          await screenshot('02-failed-run');

          // 3. The cause fixed: the mirror is back, same port, same storage.
          await mirrorRegistry.process.start();

          // 4. Reset to the workflow task that scheduled the sync activity (sign is not run again).
          const resetPoint = await workflowTaskBefore(handle, 'syncImage');
          await page.getByRole('button', { name: 'Reset', exact: true }).first().click();
          const dialog = page.getByRole('dialog', { name: 'Reset Workflow' });
          await dialog.getByTestId('workflow-reset-event-id-select-button').click();
          await dialog.getByRole('option', { name: `${resetPoint} - WorkflowTaskCompleted`, exact: true }).click();
          await dialog.getByPlaceholder('Enter a reason').fill('mirror back: re-run from sync');
          await screenshot('03-reset-dialog');
          await dialog.getByTestId('confirm-modal-button').click();

          // 5. The UI links the new run; it completes.
          await page.getByText('This Workflow has been reset').first().waitFor();
          await page.getByRole('link', { name: 'here' }).first().click();
          await page.waitForURL((url) => url.pathname.includes('/workflows/') && !url.pathname.includes(failedRunId));
          const result = (await chain.client.workflow.getHandle(workflowId).result()) as ChainStatus;
          assert.equal(result.stage, 'done');
          // The run is over (the client says so); the page shows it once reloaded and rendered.
          await until('the UI to show the reset run completed', 180_000, async () => {
            await page.reload();
            await page.getByRole('heading', { name: workflowId }).first().waitFor();
            const badge = page.getByText(/^completed$/i).first();
            return (await badge.waitFor({ timeout: 10_000 }).then(
              () => true,
              () => false,
            ))
              ? true
              : undefined;
          });
          await screenshot('04-reset-run-completed');

          // Nothing doubled: one signature, the same attestations, in the source and in the mirror; one notification.
          const resetRun = await chain.client.workflow.getHandle(workflowId).describe();
          assert.notEqual(resetRun.runId, failedRunId);
          assert.equal(resetRun.status.name, 'COMPLETED');
          assert.equal(resetRun.typedSearchAttributes.get(DcStage), 'done');
          assert.equal(resetRun.typedSearchAttributes.get(DcFailedStage), undefined, 'the completed run carries no failed stage');
          await recordHistory('reset-after-sync-failure', chain.client.workflow.getHandle(workflowId), config.temporal.address as string);
          assert.equal(await layers(source, 'demo/ops', input.digest, 'sig'), signaturesBefore);
          assert.equal(await layers(source, 'demo/ops', input.digest, 'att'), attestationsBefore);
          assert.equal((await mirror.headManifest('eu/demo/ops', input.digest))?.digest, input.digest);
          assert.equal((await mirror.headManifest('eu/demo/ops', 'stable'))?.digest, input.digest);
          assert.equal(await layers(mirror, 'eu/demo/ops', input.digest, 'sig'), signaturesBefore);
          assert.equal(await layers(mirror, 'eu/demo/ops', input.digest, 'att'), attestationsBefore);
          assert.equal(distributed(input.digest), 1);
          // Temporal keeps the failed run: the query still lists it (the UI links it to its reset run).
          assert.deepEqual(await listed(chain.client, FAILED_IN_SYNC, workflowId), [failedRunId]);
        },
      ),
  );

  it('a run that completes removes a DcFailedStage it was started with', { timeout: 300_000 }, async () => {
    const { input, workflowId } = await pushed('demo/cleared', 'cleared');
    const handle = await chain.client.workflow.start(deliveryChain, {
      taskQueue: config.temporal.taskQueue,
      workflowId,
      args: [input],
      typedSearchAttributes: [{ key: DcFailedStage, value: 'sync' }],
    });
    assert.equal((await handle.result()).stage, 'done');
    assert.equal((await handle.describe()).typedSearchAttributes.get(DcFailedStage), undefined);
    assert.deepEqual(await listed(chain.client, `WorkflowId = "${workflowId}" AND DcStage = "done" AND DcFailedStage IS NULL`, workflowId), [
      (await handle.describe()).runId,
    ]);
    await recordHistory('failed-stage-cleared', handle, config.temporal.address as string);
  });
});

async function onFailure(record: () => Promise<unknown>, test: () => Promise<void>): Promise<void> {
  try {
    await test();
  } catch (err) {
    await record().catch(() => undefined);
    throw err;
  }
}

/** Run ids of `workflowId` that a visibility query lists, once visibility has caught up (`expect` of them). */
async function listed(client: Client, query: string, workflowId: string, expect = 1): Promise<string[]> {
  let runs: string[] = [];
  const deadline = Date.now() + 30_000;
  do {
    runs = [];
    for await (const w of client.workflow.list({ query })) if (w.workflowId === workflowId) runs.push(w.runId);
    if (runs.length === expect) return runs;
    await delay(500);
  } while (Date.now() < deadline);
  return runs;
}

/** The WorkflowTaskCompleted event whose commands scheduled `activity`: the Reset point that re-runs it and what follows. */
async function workflowTaskBefore(handle: WorkflowHandle, activity: string): Promise<number> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.findIndex((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity);
  assert.ok(scheduled > 0, `no ${activity} activity in the history`);
  const completed = events
    .slice(0, scheduled)
    .reverse()
    .find((e) => e.workflowTaskCompletedEventAttributes);
  assert.ok(completed?.eventId, `no workflow task before ${activity}`);
  return Number(completed.eventId);
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(1000);
  }
}
