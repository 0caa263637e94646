import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { type ApplicationFailure, Client, Connection, type WorkflowFailedError } from '@temporalio/client';
import { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pino from 'pino';
import { breakGlass } from '../../../cli/commands/chain';
import { startRescan } from '../../../cli/commands/rescan';
import { parseConfig } from '../../../src/config/load';
import { type Config } from '../../../src/config/schema';
import { SIGNATURE_HEADER, verifyNotification } from '../../../src/distribute/notification-signature';
import { createLogger } from '../../../src/log/logger';
import { DecisionStore } from '../../../src/policy';
import { admissionDepsFromConfig, buildAdmissionServer } from '../../../src/policy/admission';
import { generateKeyPair } from '../../../src/signing';
import { ensureRescanSchedule, RESCAN_DISABLED_NOTE, rescanSettings } from '../../../workers/temporal/schedules';
import { deliveryChain } from '../../../workflows/delivery-chain';
import { rescan } from '../../../workflows/rescan';
import { useChainWorker, type RunningChainWorker } from '../../support/chain-worker';
import { recordHistory } from '../../support/histories';
import { busyboxSpec, type ImageFile, pushImage, writeOciImage } from '../../support/images';
import { onCleanup, testDataDir, useRedis, useRegistry, useTemporal } from '../../support/services';
import { type ReceivedNotification, type TestSubscriber, useSubscriber } from '../../support/subscriber';
import { pod, postReview, review, selfSignedCert } from '../policy/admission-support';
import { type ChainInput, type ChainStatus, type RescanSummary, SCHEDULE_IDS } from '../../../src/chain';

const run = promisify(execFile);
const SUBSCRIBER_SECRET = 'rescan-subscriber-secret-0123';
const KEY_PASSWORD = 'rescan-test-key-password';
const OSV_NPM = join(__dirname, '..', '..', 'fixtures', 'osv', 'npm');
// Real OSV records: minimist CVE-2020-7598 (MODERATE) and CVE-2021-44906 (CRITICAL), lodash CVE-2019-10744 (CRITICAL).
const MINIMIST_MODERATE = 'GHSA-vh95-rmgr-6w4m.json';
const MINIMIST_CRITICAL = 'GHSA-xvch-5gv4-984h.json';
const LODASH_CRITICAL = 'GHSA-jf85-cpcp-j695.json';

const nodeModule = (name: string, version: string): ImageFile[] => [
  { path: `app/node_modules/${name}`, type: 'directory' },
  { path: `app/node_modules/${name}/package.json`, content: JSON.stringify({ name, version, license: 'MIT' }) },
];

/** A busybox image with an npm app whose node_modules hold `deps`. */
const appSpec = (deps: Record<string, string>) =>
  busyboxSpec({
    user: '1000',
    extra: [
      { path: 'app', type: 'directory' },
      { path: 'app/package.json', content: JSON.stringify({ name: 'app', version: '1.0.0', dependencies: deps }) },
      { path: 'app/node_modules', type: 'directory' },
      ...Object.entries(deps).flatMap(([name, version]) => nodeModule(name, version)),
    ],
  });

describe('the rescan: stored SBOMs against fresh OSV data, re-gated, admission and subscribers follow', () => {
  let config: Config;
  let configFile: string;
  let chain: RunningChainWorker;
  let redis: Redis;
  let store: DecisionStore;
  let registryHost: string;
  let osvDir: string;
  let admission: FastifyInstance;
  let admissionUrl: string;
  let ca: string;
  let subscriber: TestSubscriber;
  let received: ReceivedNotification[];
  const logLines: Array<Record<string, unknown>> = [];
  /** lodash only: clean until the lodash advisory arrives. */
  let clean: string;
  /** minimist + lodash: denied, let through by break-glass. */
  let overridden: string;
  /** minimist only: denied, never signed. */
  let blocked: string;

  const rescanNotes = () => received.filter((r) => (JSON.parse(r.body) as { event: string }).event.startsWith('rescan.'));
  const noteBodies = (notes: ReceivedNotification[]) =>
    notes.map((n) => JSON.parse(n.body) as { event: string; digest: string; workflowId: string; overridden: boolean; previousVerdict: string });
  const admit = async (repository: string, digest: string) =>
    (
      await postReview(
        admissionUrl,
        ca,
        review(`uid-${digest.slice(7, 15)}`, 'Pod', 'shop', pod([{ name: 'app', image: `${registryHost}/${repository}@${digest}` }])),
      )
    ).body.response;

  async function runChain(
    repository: string,
    deps: Record<string, string>,
  ): Promise<{ digest: string; workflowId: string; outcome: ChainStatus | WorkflowFailedError }> {
    const layout = join(testDataDir(), repository.replace(/\//g, '_'));
    const desc = await writeOciImage(layout, appSpec(deps), 'v1');
    await pushImage(layout, 'v1', `${registryHost}/${repository}:v1`);
    const input: ChainInput = { registry: 'source', repository, digest: desc.digest, tags: ['v1'], pushedAt: new Date().toISOString(), source: 'test' };
    const workflowId = `chain:source/${repository}@${desc.digest}`;
    const handle = await chain.client.workflow.start(deliveryChain, { taskQueue: config.temporal.taskQueue, workflowId, args: [input] });
    const outcome = await handle.result().catch((err: unknown) => err as WorkflowFailedError);
    return { digest: desc.digest, workflowId, outcome };
  }

  async function runRescan(
    id: string,
    extra: { full?: boolean } = {},
  ): Promise<{ summary: RescanSummary; handle: Awaited<ReturnType<typeof chain.client.workflow.start<typeof rescan>>> }> {
    const handle = await chain.client.workflow.start(rescan, {
      taskQueue: config.temporal.taskQueue,
      workflowId: id,
      args: [{ ...rescanSettings(config), ...extra }],
    });
    return { summary: await handle.result(), handle };
  }

  before(async () => {
    const dataDir = testDataDir();
    const [temporal, redisServer, registry, mirrorRegistry, tls] = await Promise.all([
      useTemporal(dataDir),
      useRedis(dataDir),
      useRegistry({ name: 'source', dataDir }),
      useRegistry({ name: 'mirror', dataDir }),
      selfSignedCert(dataDir),
    ]);
    registryHost = registry.host;
    ca = tls.cert;
    writeFileSync(join(dataDir, 'tls.crt'), tls.cert);
    writeFileSync(join(dataDir, 'tls.key'), tls.key);
    const keys = await generateKeyPair(KEY_PASSWORD);
    writeFileSync(join(dataDir, 'cosign.key'), keys.privateKeyPem, { mode: 0o600 });
    process.env.RESCAN_TEST_KEY_PASSWORD = KEY_PASSWORD;

    osvDir = join(dataDir, 'osv');
    mkdirSync(osvDir, { recursive: true });
    for (const f of [MINIMIST_MODERATE, MINIMIST_CRITICAL]) copyFileSync(join(OSV_NPM, f), join(osvDir, f));
    // Blocks CRITICAL findings; admission trusts the chain's signing key.
    const policyFile = join(dataDir, 'policy.json');
    writeFileSync(
      policyFile,
      JSON.stringify({
        apiVersion: 'policy.delivery-chain.dev/v1',
        kind: 'ImagePolicy',
        metadata: { name: 'rescan-test', version: '1' },
        mode: 'enforce',
        trustedKeys: [{ id: 'chain', publicKey: keys.publicKeyPem }],
        rules: [{ name: 'no-critical', vulnerabilities: { maxSeverity: { fixable: 'HIGH', unfixable: 'HIGH' } } }],
      }),
    );

    subscriber = await useSubscriber();
    received = subscriber.received;

    const raw = {
      dataDir,
      temporal: { address: temporal.address, taskQueue: `rescan-${process.pid}` },
      redis: { url: redisServer.url },
      registries: [
        { name: 'source', url: registry.url },
        { name: 'mirror', url: mirrorRegistry.url },
      ],
      sources: [{ name: 'source', registry: 'source', secret: 'webhook-secret-0123456789' }],
      sync: { targets: [{ registry: 'mirror' }] },
      scan: { osv: { directory: osvDir } },
      policy: { file: policyFile, admission: { tlsCertFile: join(dataDir, 'tls.crt'), tlsKeyFile: join(dataDir, 'tls.key') } },
      signing: { key: { kind: 'file', path: join(dataDir, 'cosign.key'), passwordEnv: 'RESCAN_TEST_KEY_PASSWORD' } },
      distribute: { subscribers: [{ name: 'audit', url: subscriber.url, secret: SUBSCRIBER_SECRET }] },
      // Far from any firing time (intervals count from the epoch), so no scheduled run joins the test's own.
      rescan: { interval: '3650d' },
    };
    config = parseConfig(raw);
    configFile = join(dataDir, 'config.json');
    writeFileSync(configFile, JSON.stringify(raw));

    const logs = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    chain = await useChainWorker(config, { logger: pino({ level: 'info' }, logs) });
    redis = new Redis(redisServer.url);
    onCleanup(() => redis.disconnect());
    store = new DecisionStore(redis);

    admission = await buildAdmissionServer(admissionDepsFromConfig(config, redis, createLogger({ level: 'silent' })));
    await admission.listen({ host: '127.0.0.1', port: 0 });
    onCleanup(() => admission.close());
    admissionUrl = `https://127.0.0.1:${(admission.server.address() as AddressInfo).port}`;

    // Three images through the chain on the initial data (minimist advisories only).
    const a = await runChain('demo/clean', { lodash: '4.17.11' });
    assert.equal((a.outcome as ChainStatus).stage, 'done', String(a.outcome));
    clean = a.digest;
    const b = await runChain('demo/overridden', { minimist: '1.2.0', lodash: '4.17.11' });
    assert.equal((b.outcome as WorkflowFailedError).cause?.message.includes('GHSA-xvch-5gv4-984h'), true);
    const resumed = await breakGlass(chain.client, b.workflowId, { actor: 'alice@example.com', reason: 'INC-4711: minimist not reachable' });
    assert.equal(((await chain.client.workflow.getHandle(b.workflowId, resumed.runId).result()) as ChainStatus).stage, 'done');
    overridden = b.digest;
    const c = await runChain('demo/blocked', { minimist: '1.2.0' });
    assert.equal(((c.outcome as WorkflowFailedError).cause as ApplicationFailure | undefined)?.type, 'PolicyDenied');
    blocked = c.digest;
  });

  after(() => {
    delete process.env.RESCAN_TEST_KEY_PASSWORD;
  });

  it('denies an admitted image once its package gets a CRITICAL advisory: new decision, admission refuses, one signed notification; tells of new violations under break-glass', async () => {
    assert.equal((await admit('demo/clean', clean))?.allowed, true, 'admitted before the rescan');
    assert.equal((await admit('demo/overridden', overridden))?.allowed, true, 'admitted by break-glass');
    assert.match((await admit('demo/blocked', blocked))?.status?.message ?? '', /not signed by a trusted key/);
    const before = {
      clean: (await store.history(clean)).length,
      overridden: (await store.history(overridden)).length,
      blocked: (await store.history(blocked)).length,
    };
    const blockedScannedAt = (await store.latest(blocked))?.facts.scannedAt;
    assert.equal(await redis.exists('dchain:policy:digests:indexed'), 1, 'the worker ran the index backfill when it started');
    const notesBefore = received.length;

    copyFileSync(join(OSV_NPM, LODASH_CRITICAL), join(osvDir, LODASH_CRITICAL));
    const { summary, handle } = await runRescan(`rescan-test-${Date.now()}`);
    // The schedule's rescans are batched (the unbatched one's history, rescan.json, was recorded before batching).
    await recordHistory('rescan-batched', handle, config.temporal.address as string);

    assert.deepEqual(
      { ...summary, osv: summary.osv.records, startedAt: undefined, finishedAt: undefined },
      {
        osv: 3,
        checked: 3,
        changedToDenied: 1,
        changedToAllowed: 0,
        unchanged: 2,
        skipped: 0,
        failed: 0,
        recorded: 2,
        overridden: 1,
        notified: 2,
        problems: [],
        // No rescan fingerprinted the OSV data before: every image is re-matched (and indexed).
        plan: { mode: 'full', reason: 'no earlier rescan fingerprinted its OSV data' },
        runs: 1,
        startedAt: undefined,
        finishedAt: undefined,
      },
    );

    // The clean image: a new denied decision naming lodash, and admission refuses it (its cache was told).
    const latest = await store.latest(clean);
    assert.equal(latest?.decision.allowed, false);
    assert.equal(latest?.lastRescan?.workflowId, handle.workflowId);
    assert.ok(latest?.decision.violations.some((v) => JSON.stringify(v.evidence).includes('lodash')));
    assert.equal((await store.history(clean)).length, before.clean + 1);
    const refused = await admit('demo/clean', clean);
    assert.equal(refused?.allowed, false);
    assert.match(refused?.status?.message ?? '', /denied by policy rescan-test:1:.*(GHSA-jf85-cpcp-j695|CVE-2019-10744).* lodash/);

    // Break-glass kept: the new denial (now two CRITICALs) is recorded under the override; still admitted.
    const kept = await store.latest(overridden);
    assert.equal(kept?.override?.actor, 'alice@example.com');
    assert.equal(kept?.override?.reason, 'INC-4711: minimist not reachable');
    assert.equal(kept?.decision.allowed, false);
    assert.equal(kept?.facts.findings.filter((f) => f.severity === 'CRITICAL').length, 2);
    assert.equal((await store.history(overridden)).length, before.overridden + 1);
    const admitted = await admit('demo/overridden', overridden);
    assert.equal(admitted?.allowed, true);
    assert.ok(
      admitted?.warnings?.some((w) => /break-glass override of alice@example\.com/.test(w)),
      JSON.stringify(admitted?.warnings),
    );

    // The blocked image: nothing new to decide; only its scan time moves on.
    assert.equal((await store.history(blocked)).length, before.blocked);
    assert.ok(Date.parse((await store.latest(blocked))!.facts.scannedAt) > Date.parse(blockedScannedAt!));

    // Exactly one notification per image: the clean image's denial, signed with the subscriber's secret…
    const notes = received.slice(notesBefore);
    assert.deepEqual(
      noteBodies(notes)
        .map((n) => n.digest)
        .sort(),
      [clean, overridden].sort(),
    );
    const note = notes.find((n) => n.body.includes(clean))!;
    assert.deepEqual(verifyNotification(SUBSCRIBER_SECRET, note.body, note.headers[SIGNATURE_HEADER] as string, Math.floor(Date.now() / 1000)), {
      valid: true,
    });
    const body = JSON.parse(note.body) as {
      event: string;
      digest: string;
      repository: string;
      verdict: string;
      previousVerdict: string;
      overridden: boolean;
      workflowId: string;
      violations: Array<{ message: string }>;
      osvVersion: string;
    };
    assert.equal(body.event, 'rescan.denied');
    assert.equal(body.digest, clean);
    assert.equal(body.repository, 'demo/clean');
    assert.equal(body.previousVerdict, 'allowed');
    assert.equal(body.overridden, false);
    assert.equal(body.workflowId, handle.workflowId);
    assert.equal(body.osvVersion, summary.osv.version);
    assert.match(body.violations[0]?.message ?? '', /lodash/);
    // …and the overridden image's new CRITICAL: still admitted, but operators hear of it.
    const told = JSON.parse(notes.find((n) => n.body.includes(overridden))!.body) as typeof body;
    assert.deepEqual([told.event, told.verdict, told.overridden, told.repository], ['rescan.denied', 'denied', true, 'demo/overridden']);
    assert.ok(
      told.violations.some((v) => /lodash/.test(v.message)),
      JSON.stringify(told.violations),
    );
    assert.equal((await store.latest(overridden))?.lastRescan?.notified, true, 'marked as told');

    // A batch logs each image whose verdict changed (or that gained violations under break-glass), with the workflow id and the digest.
    const perImage = logLines.filter((l) => l.workflowId === handle.workflowId && typeof l.msg === 'string' && /^rescan:/.test(l.msg));
    assert.deepEqual(perImage.map((l) => l.digest).sort(), [clean, overridden].sort(), JSON.stringify(perImage.map((l) => l.msg)));
    // The blocked image matched the findings its gate decided on (its package got no advisory): taken as
    // gated by what the chain's gate recorded (FleetIndex.setGatedRecord), its findings not digested again.
    const matched = logLines.filter((l) => l.workflowId === handle.workflowId && l.msg === 'rescan batch matched');
    assert.deepEqual(
      matched.map((l) => [l.matched, l.asGated]),
      [[3, 1]],
      JSON.stringify(matched),
    );
  });

  it('records and notifies nothing on a second rescan of the same data (`dchain rescan --json`)', async () => {
    const lengths = await Promise.all([clean, overridden, blocked].map(async (d) => (await store.history(d)).length));
    const notesBefore = rescanNotes().length;
    // Asynchronously: the workers that run the rescan live in this process.
    const cli = await run(
      process.execPath,
      ['--import', 'tsx', join(__dirname, '..', '..', '..', 'cli', 'dchain.ts'), '--config', configFile, 'rescan', '--json'],
      { encoding: 'utf8', timeout: 120_000 },
    );
    const out = JSON.parse(cli.stdout) as { workflowId: string; attached: boolean; summary: RescanSummary };
    assert.equal(out.attached, false);
    // The run is the schedule's (triggered), so the schedule's overlap policy covers it.
    assert.match(out.workflowId, /^dchain-rescan-\d{4}-/);
    const { info } = await chain.client.schedule.getHandle(SCHEDULE_IDS.rescan).describe();
    assert.ok(
      info.recentActions.some((a) => a.action.workflow.workflowId === out.workflowId),
      JSON.stringify(info.recentActions),
    );
    // A delta: no package's records changed, so only the images whose signed summary is due are looked at
    // (this test's interval, 3650d, outlives any summary: every image the chain signed is, each time).
    assert.deepEqual(out.summary.plan, { mode: 'delta', changedPackages: 0, images: 2, belowCut: 0 });
    assert.deepEqual(
      [
        out.summary.checked,
        out.summary.unchanged,
        out.summary.recorded,
        out.summary.changedToDenied,
        out.summary.changedToAllowed,
        out.summary.notified,
        out.summary.failed,
      ],
      [2, 2, 0, 0, 0, 0, 0],
    );
    assert.deepEqual(await Promise.all([clean, overridden, blocked].map(async (d) => (await store.history(d)).length)), lengths, 'no new decision');
    assert.equal(rescanNotes().length, notesBefore, 'no notification');
  });

  it('allows a denied image again when the advisory that denied it is withdrawn, and admission still wants a signature', async () => {
    rmSync(join(osvDir, MINIMIST_CRITICAL));
    const notesBefore = rescanNotes().length;
    const { summary } = await runRescan(`rescan-withdrawn-${Date.now()}`);
    assert.deepEqual([summary.changedToAllowed, summary.changedToDenied, summary.notified, summary.recorded], [1, 0, 1, 2], JSON.stringify(summary));
    // One package changed (minimist): its two images are re-matched; the lodash-only image is not (its denial is no summary to refresh).
    assert.deepEqual([summary.plan?.mode, summary.plan?.changedPackages, summary.checked], ['delta', 1, 2]);
    assert.equal((await store.latest(blocked))?.decision.allowed, true);
    const notes = rescanNotes()
      .slice(notesBefore)
      .map((n) => JSON.parse(n.body) as { event: string; digest: string });
    assert.deepEqual(
      notes.map((n) => [n.event, n.digest]),
      [['rescan.allowed', blocked]],
    );
    // Allowed by policy, but the chain stopped before signing it: a new chain run is what makes it runnable.
    assert.match((await admit('demo/blocked', blocked))?.status?.message ?? '', /not signed by a trusted key/);
    assert.equal((await store.latest(overridden))?.override?.actor, 'alice@example.com', 'the override survives every rescan');
  });

  it('sends a change whose notification failed for good with the next rescan, once', async () => {
    // The advisory comes back: the blocked image is denied again, the overridden one gets a new CRITICAL.
    copyFileSync(join(OSV_NPM, MINIMIST_CRITICAL), join(osvDir, MINIMIST_CRITICAL));
    const notesBefore = rescanNotes().length;
    subscriber.status = 410; // a permanent refusal: the notification fails at its first attempt
    const undelivered = (await runRescan(`rescan-undelivered-${Date.now()}`)).summary;
    subscriber.status = 204;
    assert.deepEqual([undelivered.changedToDenied, undelivered.recorded, undelivered.notified, undelivered.failed], [1, 2, 0, 0], JSON.stringify(undelivered));
    assert.deepEqual(
      undelivered.problems.map((p) => [p.digest, p.step]).sort(),
      [
        [blocked, 'notify'],
        [overridden, 'notify'],
      ].sort(),
    );
    assert.equal((await store.latest(blocked))?.decision.allowed, false, 'admission follows the decision anyway');
    assert.equal((await store.latest(blocked))?.lastRescan?.notified, false);
    assert.equal(rescanNotes().length, notesBefore);

    // The next rescan finds nothing new to decide, and sends what the last one could not.
    const { summary, handle } = await runRescan(`rescan-redelivered-${Date.now()}`);
    assert.deepEqual([summary.recorded, summary.changedToDenied, summary.notified, summary.problems.length], [0, 1, 2, 0], JSON.stringify(summary));
    assert.deepEqual(
      noteBodies(rescanNotes().slice(notesBefore))
        .map((n) => [n.event, n.digest, n.previousVerdict, n.overridden, n.workflowId])
        .sort(),
      [
        ['rescan.denied', blocked, 'allowed', false, handle.workflowId],
        ['rescan.denied', overridden, 'denied', true, handle.workflowId],
      ].sort(),
    );
    assert.equal((await store.latest(blocked))?.lastRescan?.notified, true);

    // Told once: the rescan after that has nothing to send.
    const quiet = (await runRescan(`rescan-quiet-${Date.now()}`)).summary;
    // Nothing changed and nothing is left to tell: only the summaries due are looked at.
    assert.deepEqual([quiet.notified, quiet.changedToDenied, quiet.unchanged, quiet.checked], [0, 0, 2, 2]);
    assert.equal(rescanNotes().length, notesBefore + 2);
  });

  it('a full rescan re-matches every image, and denies one whose stored SBOM is gone with the reason, never as clean', async () => {
    const sbomKey = `dchain:sbom:${clean}`;
    const kept = await redis.getBuffer(sbomKey);
    await redis.del(sbomKey);
    try {
      const { summary } = await runRescan(`rescan-full-${Date.now()}`, { full: true });
      assert.deepEqual([summary.plan?.mode, summary.checked, summary.failed], ['full', 3, 0], JSON.stringify(summary));
      assert.ok(
        summary.problems.some((p) => p.digest === clean && p.step === 'rescan' && /no stored SBOM/.test(p.error)),
        JSON.stringify(summary.problems),
      );
      const latest = await store.latest(clean);
      assert.equal(latest?.decision.allowed, false);
      assert.deepEqual(latest?.facts.findings, [], 'no finding is known any more (lodash included)…');
      assert.ok(
        latest?.decision.violations.some((v) => /packages are unknown: no stored SBOM/.test(v.message)),
        `…and the decision says why it denies: ${JSON.stringify(latest?.decision.violations)}`,
      );
    } finally {
      if (kept) await redis.set(sbomKey, kept);
    }
  });

  it('reads the SBOM of an image stored without a rescan view, and denies one whose view is malformed with the reason', async () => {
    const viewKey = `dchain:sbom:rescan-view/2:${clean}`;
    const text = await redis.get(viewKey);
    const view = JSON.parse(text ?? 'null') as { packages: unknown[] } | null;
    assert.ok(text && view && view.packages.length > 0, 'the scan stored a view beside the SBOM');
    try {
      // Stored before views were: the SBOM is read (the image matched, lodash found again) and the view written.
      await redis.del(viewKey);
      const { summary } = await runRescan(`rescan-no-view-${Date.now()}`, { full: true });
      assert.deepEqual([summary.checked, summary.failed], [3, 0], JSON.stringify(summary));
      assert.equal(
        summary.problems.some((p) => p.digest === clean),
        false,
        JSON.stringify(summary.problems),
      );
      const matched = await store.latest(clean);
      assert.ok(
        matched?.facts.findings.some((f) => f.package === 'lodash'),
        JSON.stringify(matched?.facts.findings),
      );
      assert.equal(
        matched?.decision.violations.some((v) => /packages are unknown/.test(v.message)),
        false,
      );
      assert.equal(await redis.get(viewKey), text, 'the view read from the SBOM is the one the scan stored');

      // A view whose package is not a number of the package table, or names one the table does not hold:
      // refused, not read as an image without packages.
      for (const [packages, problem] of [
        [[0, 0, 0], /rescan view .* is malformed: packages\[0\]: expected a package number of the table/],
        [[...view.packages.slice(0, 3 * 2), 999_999, 0, 0], /rescan view .* names package 999999, which the package table does not hold/],
      ] as const) {
        // One after the other: the second denial is recorded with its own reason, not left with the first's.
        await redis.set(viewKey, JSON.stringify({ ...view, packages }));
        const bad = (await runRescan(`rescan-bad-view-${Date.now()}`, { full: true })).summary;
        assert.deepEqual([bad.plan?.mode, bad.checked, bad.failed], ['full', 3, 0], JSON.stringify(bad));
        assert.ok(
          bad.problems.some((p) => p.digest === clean && p.step === 'rescan' && problem.test(p.error)),
          JSON.stringify(bad.problems),
        );
        const denied = await store.latest(clean);
        assert.equal(denied?.decision.allowed, false);
        assert.deepEqual(denied?.facts.findings, [], 'no finding is known any more (lodash included)…');
        assert.ok(
          denied?.decision.violations.some((v) => /packages are unknown: rescan view /.test(v.message) && problem.test(v.message)),
          `…and the decision says why it denies: ${JSON.stringify(denied?.decision.violations)}`,
        );
      }
    } finally {
      await redis.set(viewKey, text);
    }
  });

  it("`dchain rescan` follows the schedule's running rescan instead of starting another", async () => {
    // Without workers the triggered run stays running (nothing executes it), however long the check takes.
    await chain.stop();
    const connection = await Connection.connect({ address: config.temporal.address as string });
    onCleanup(() => connection.close());
    const client = new Client({ connection, namespace: config.temporal.namespace });
    const schedule = client.schedule.getHandle(SCHEDULE_IDS.rescan);
    const actionsBefore = (await schedule.describe()).info.numActionsTaken;
    const first = await startRescan(client);
    const second = await startRescan(client);
    assert.equal(first.attached, false);
    assert.deepEqual([second.workflowId, second.attached], [first.workflowId, true]);
    assert.equal((await schedule.describe()).info.numActionsTaken, actionsBefore + 1, 'one run, not two');

    chain = await useChainWorker(config);
    const summary = await second.handle.result();
    assert.deepEqual([summary.plan?.mode, summary.checked, summary.unchanged, summary.notified], ['delta', 1, 1, 0]);
  });

  it('keeps the schedule in line with the configuration each time a worker starts', async () => {
    const schedule = chain.client.schedule.getHandle(SCHEDULE_IDS.rescan);
    const created = await schedule.describe();
    assert.equal(created.spec.intervals?.[0]?.every, 3650 * 24 * 3_600_000);
    assert.equal(created.action.type, 'startWorkflow');
    assert.equal(created.action.workflowType, 'rescan');
    assert.equal(created.action.taskQueue, config.temporal.taskQueue);
    assert.equal(created.policies.overlap, 'SKIP');
    assert.equal(created.state.paused, false);

    // A worker started with another interval updates the schedule.
    await chain.stop();
    const restarted = await useChainWorker({ ...config, rescan: { ...config.rescan, interval: '12h', concurrency: 4 } });
    const again = restarted.client.schedule.getHandle(SCHEDULE_IDS.rescan);
    const updated = await again.describe();
    assert.equal(updated.spec.intervals?.[0]?.every, 12 * 3_600_000);
    assert.deepEqual(updated.action.type === 'startWorkflow' ? updated.action.args : undefined, [
      { batchSize: 500, concurrency: 4, parallelBatches: 2, batched: true },
    ]);
    assert.equal(updated.policies.overlap, 'SKIP');

    // Turned off: paused, with a note that says why; turned on again: resumed.
    assert.equal(await ensureRescanSchedule(restarted.client, { ...config, rescan: { ...config.rescan, enabled: false } }), 'paused');
    const paused = await again.describe();
    assert.equal(paused.state.paused, true);
    assert.equal(paused.state.note, RESCAN_DISABLED_NOTE);
    assert.equal(await ensureRescanSchedule(restarted.client, config), 'updated');
    assert.equal((await again.describe()).state.paused, false);
  });
});
