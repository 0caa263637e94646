import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { CancelledFailure, type Client, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { rescan, rescanProgressQuery } from '../../../workflows/rescan';
import { startRescanWorkers } from '../../support/rescan-workers';
import { type RescanInput } from '../../../src/chain';

/**
 * The rescan workflow's paging on a real Temporal dev server, with the activities replaced by an
 * in-memory fleet: every digest once, in bounded parallel, across continue-as-new runs.
 */
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const FLEET = Array.from({ length: 23 }, (_, i) => digest(i + 1));
const VANISHED = digest(5);
const BROKEN = digest(11);
const NOW_DENIED = new Set([digest(3), digest(17)]);
const NOW_ALLOWED = digest(20);
/** A now-denied digest that runs in a cluster (and was built from source): the rescan rebuilds it. */
const DEPLOYED = digest(17);

describe('rescan workflow: paging, bounded parallelism and continue-as-new', () => {
  const rescanned: string[] = [];
  const regated: string[] = [];
  const attested: string[] = [];
  const rebuilt: string[] = [];
  const rebuildNamed: Record<string, unknown> = {};
  const notified: Array<{ digest: string; event: string; scope?: string }> = [];
  const pages: Array<{ after?: string; limit: number }> = [];
  const marked: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let refreshes = 0;
  /** While set, rescans (the OSV refresh) wait for it: images stay in flight. */
  let hold: Promise<void> | undefined;
  let holdRefresh: Promise<void> | undefined;
  let client: Client;
  let taskQueue: string;
  let stop: () => Promise<void> = async () => undefined;

  before(async () => {
    const activities = {
      async refreshOsvData() {
        await holdRefresh;
        refreshes++;
        return { version: 'osv-fixture-1', records: 42, rejected: 0 };
      },
      async listGatedDigests({ after, limit }: { after?: string; limit: number }) {
        pages.push({ ...(after === undefined ? {} : { after }), limit });
        const from = after === undefined ? 0 : FLEET.findIndex((d) => d > after);
        const digests = from < 0 ? [] : FLEET.slice(from, from + limit);
        const last = digests[digests.length - 1];
        return last !== undefined && last !== FLEET[FLEET.length - 1] ? { digests, next: last } : { digests };
      },
      async rescanImage({ digest: d, osvVersion }: { digest: string; osvVersion?: string }) {
        assert.equal(osvVersion, 'osv-fixture-1');
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          await delay(5);
          await hold;
          rescanned.push(d);
          if (d === VANISHED) throw ApplicationFailure.create({ type: 'NOT_FOUND', message: `no stored SBOM for ${d}`, nonRetryable: true });
          return { digest: d, registry: 'source', repository: 'team/app', counts: { CRITICAL: NOW_DENIED.has(d) ? 1 : 0 }, osv: { version: 'osv-fixture-1' } };
        } finally {
          inFlight--;
        }
      },
      // The chain-lifecycle and inventory steps of a rescan: nothing to restart or report here.
      async restartUnblocked() {
        return undefined;
      },
      async deployedWorkloads({ digest: d }: { digest: string }) {
        return { workloads: d === DEPLOYED ? [{ cluster: 'c1', namespace: 'team', kind: 'Deployment', name: 'app', pods: ['app-1'] }] : [], events: [] };
      },
      async rebuildDeployed({ digest: d }: { digest: string }) {
        rebuilt.push(d);
        return `build:https://git.example.test/app.git@refs/heads/main+rebuild-of:${d}`;
      },
      // The fresh SLSA VSA of each signed image: counted, nothing signed here.
      async attestVerdict({ digest: d }: { digest: string }) {
        attested.push(d);
        return { result: 'PASSED', timeVerified: new Date().toISOString(), repositories: [] };
      },
      async regateImage({ digest: d }: { digest: string }) {
        regated.push(d);
        if (d === BROKEN) throw ApplicationFailure.create({ type: 'BAD_INPUT', message: 'stored decision is unreadable', nonRetryable: true });
        const verdict = NOW_DENIED.has(d) ? 'denied' : d === NOW_ALLOWED ? 'allowed' : 'unchanged';
        const changed = verdict !== 'unchanged';
        return {
          digest: d,
          repository: 'team/app',
          verdict,
          recorded: changed,
          overridden: false,
          findingsChanged: changed,
          allowed: verdict !== 'denied',
          previousAllowed: verdict === 'denied',
          ...(changed ? { notify: verdict } : {}),
          policyVersion: 'p:1',
          violations: [],
          osvVersion: 'osv-fixture-1',
        };
      },
      async notifySubscribers(input: { digest: string; event: string; scope?: string; payload?: { rebuild?: unknown } }) {
        if (input.payload?.rebuild !== undefined) rebuildNamed[input.digest] = input.payload.rebuild;
        notified.push({ digest: input.digest, event: input.event, ...(input.scope === undefined ? {} : { scope: input.scope }) });
        return [];
      },
      async markRescanNotified({ digest: d }: { digest: string }) {
        marked.push(d);
        return true;
      },
    };
    ({ client, taskQueue, stop } = await startRescanWorkers('rescan-paging', activities));
  });

  after(() => stop());

  it('visits every digest once across runs, counts each outcome and notifies only verdict changes', async () => {
    const handle = await client.workflow.start(rescan, {
      taskQueue,
      workflowId: `rescan-paging-${Date.now()}`,
      args: [{ batchSize: 5, concurrency: 3, batchesPerRun: 2 }],
    });
    const summary = await handle.result();

    assert.equal(refreshes, 1, 'the OSV data is refreshed once, not once per run');
    assert.deepEqual([...rescanned].sort(), FLEET, 'every digest rescanned exactly once');
    assert.deepEqual(
      [...regated].sort(),
      FLEET.filter((d) => d !== VANISHED),
    );
    // Every image allowed now or before (all of them here) gets a fresh verdict attestation; not the one whose re-gate failed.
    assert.deepEqual(
      [...attested].sort(),
      FLEET.filter((d) => d !== VANISHED && d !== BROKEN),
    );
    assert.ok(maxInFlight <= 3, `at most 3 images at a time (saw ${maxInFlight})`);
    assert.ok(maxInFlight > 1, 'images are rescanned in parallel');
    // 23 digests, 5 a page: 5 pages; 2 pages a run: 3 runs, each starting after the previous run's last digest.
    assert.deepEqual(pages, [{ limit: 5 }, ...[5, 10, 15, 20].map((n) => ({ after: digest(n), limit: 5 }))]);
    assert.equal(summary.runs, 3);
    assert.equal(summary.osv.version, 'osv-fixture-1');
    assert.equal(summary.checked, 23);
    assert.equal(summary.changedToDenied, 2);
    assert.equal(summary.changedToAllowed, 1);
    assert.equal(summary.unchanged, 18);
    assert.equal(summary.skipped, 1);
    assert.equal(summary.failed, 1);
    assert.equal(summary.recorded, 3);
    assert.equal(summary.notified, 3);
    assert.deepEqual(
      summary.problems.map((p) => [p.digest, p.step, p.error.split(':')[0]]),
      [[BROKEN, 'regate', 'BAD_INPUT']],
      'skips are counted, not listed',
    );
    // Only the denied digest that runs somewhere is rebuilt, and its notification names the rebuild.
    assert.deepEqual(rebuilt, [DEPLOYED]);
    assert.deepEqual(rebuildNamed, { [DEPLOYED]: `build:https://git.example.test/app.git@refs/heads/main+rebuild-of:${DEPLOYED}` });
    assert.deepEqual(
      notified.sort((a, b) => a.digest.localeCompare(b.digest)),
      [
        { digest: digest(3), event: 'rescan.denied', scope: digest(3) },
        { digest: digest(17), event: 'rescan.denied', scope: digest(17) },
        { digest: NOW_ALLOWED, event: 'rescan.allowed', scope: NOW_ALLOWED },
      ],
    );

    assert.deepEqual(
      marked.sort(),
      notified.map((n) => n.digest),
      'each notification marked as told',
    );

    const first = await client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).describe();
    assert.equal(first.status.name, 'CONTINUED_AS_NEW');
  });

  it('stops when cancelled, without counting the images in flight as failures', async () => {
    let release = () => {};
    hold = new Promise<void>((resolve) => (release = resolve));
    try {
      const handle = await client.workflow.start(rescan, { taskQueue, workflowId: `rescan-cancel-${Date.now()}`, args: [{ batchSize: 5, concurrency: 3 }] });
      while (inFlight < 3) await delay(10);
      await handle.cancel();
      await assert.rejects(handle.result(), (err: unknown) => err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure);
      const progress = await handle.query(rescanProgressQuery);
      assert.deepEqual([progress.checked, progress.failed, progress.problems.length], [3, 0, 0], JSON.stringify(progress));
    } finally {
      release();
      hold = undefined;
    }
  });

  it('answers the progress query while the OSV data is being refreshed', async () => {
    let release = () => {};
    holdRefresh = new Promise<void>((resolve) => (release = resolve));
    const handle = await client.workflow.start(rescan, { taskQueue, workflowId: `rescan-query-${Date.now()}`, args: [{ batchSize: 5, concurrency: 3 }] });
    try {
      const progress = await handle.query(rescanProgressQuery);
      assert.deepEqual([progress.osv, progress.checked, progress.runs], [{ version: '', records: 0 }, 0, 1]);
    } finally {
      release();
      holdRefresh = undefined;
      await handle.terminate('test done');
    }
  });

  it('refuses settings that are missing or not positive integers, for good', async () => {
    for (const [n, settings] of [{ batchSize: 0, concurrency: 8 }, { batchSize: 100 } as RescanInput].entries()) {
      const handle = await client.workflow.start(rescan, { taskQueue, workflowId: `rescan-bad-${n}-${Date.now()}`, args: [settings] });
      await assert.rejects(
        handle.result(),
        (err: Error & { cause?: ApplicationFailure }) => err.cause?.type === 'BAD_INPUT' && err.cause.nonRetryable === true,
      );
    }
  });
});
