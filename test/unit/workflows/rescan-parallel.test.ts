import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { type Client } from '@temporalio/client';
import { rescan } from '../../../workflows/rescan';
import { startRescanWorkers } from '../../support/rescan-workers';

/**
 * rescan.parallelBatches on a real Temporal dev server, the activities an in-memory fleet: batches run
 * side by side (so a rescan uses every scan worker), never more than the setting, each page exactly
 * once, and every batch of a run finished before it continues as new after its cursor.
 */
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const GATED = Array.from({ length: 14 }, (_, i) => digest(i + 1));

describe('rescan workflow: parallel batches', () => {
  const batches: string[][] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  /** Resolved once two batches ran at the same time; a batch waits for it (bounded) so the overlap is certain when allowed. */
  let overlapped: () => void = () => undefined;
  let overlap = new Promise<void>((resolve) => (overlapped = resolve));
  let commits = 0;
  let client: Client;
  let taskQueue: string;
  let stop: () => Promise<void> = async () => undefined;

  const reset = () => {
    batches.length = 0;
    inFlight = 0;
    maxInFlight = 0;
    commits = 0;
    overlap = new Promise<void>((resolve) => (overlapped = resolve));
  };

  before(async () => {
    const activities = {
      async refreshOsvData() {
        return { version: 'osv-3', records: 7, rejected: 0 };
      },
      async planRescan() {
        return { mode: 'full', reason: 'a full rescan was asked for' };
      },
      async listGatedDigests({ after, limit }: { after?: string; limit: number }) {
        const from = after === undefined ? 0 : GATED.findIndex((d) => d > after);
        const digests = from < 0 ? [] : GATED.slice(from, from + limit);
        const last = digests[digests.length - 1];
        return last !== undefined && last !== GATED[GATED.length - 1] ? { digests, next: last } : { digests };
      },
      async rescanGateBatch({ digests }: { digests: string[]; osvVersion: string }) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        if (inFlight > 1) overlapped();
        // Long enough for another batch to start when the workflow lets one; never forever.
        await Promise.race([overlap, delay(1_500)]);
        await delay(20);
        batches.push(digests);
        inFlight--;
        return {
          matched: digests.length,
          unreadable: [],
          carried: [],
          recorded: 0,
          overridden: 0,
          unchanged: digests.length,
          changedToDenied: 0,
          changedToAllowed: 0,
          skipped: 0,
          failed: [],
          followUps: [],
        };
      },
      async commitRescanPlan() {
        commits++;
        return true;
      },
    };
    ({ client, taskQueue, stop } = await startRescanWorkers('rescan-parallel', activities));
  });

  after(() => stop());

  it('runs up to parallelBatches batches at once, each page once, and commits once', async () => {
    reset();
    const summary = await client.workflow.execute(rescan, {
      taskQueue,
      workflowId: `rescan-parallel-${Date.now()}`,
      args: [{ batchSize: 3, concurrency: 2, parallelBatches: 2, batched: true, full: true }],
    });
    assert.equal(maxInFlight, 2, 'two batches side by side, never more');
    assert.deepEqual(batches.flat().sort(), GATED, 'every gated digest in exactly one batch');
    assert.equal(batches.length, 5);
    assert.equal(summary.checked, GATED.length);
    assert.equal(summary.unchanged, GATED.length);
    assert.equal(summary.failed, 0);
    assert.equal(commits, 1);
  });

  it('finishes the batches of a run before continuing as new after its cursor', async () => {
    reset();
    const handle = await client.workflow.start(rescan, {
      taskQueue,
      workflowId: `rescan-parallel-can-${Date.now()}`,
      args: [{ batchSize: 3, concurrency: 2, parallelBatches: 2, batchesPerRun: 2, batched: true, full: true }],
    });
    const summary = await handle.result();
    assert.equal(maxInFlight, 2);
    assert.deepEqual(batches.flat().sort(), GATED, 'no page lost or repeated across runs');
    assert.equal(summary.runs, 3, 'two pages a run: continued as new twice');
    assert.equal(summary.checked, GATED.length);
    assert.equal(commits, 1);
  });

  it('keeps one batch at a time without the setting', async () => {
    reset();
    const summary = await client.workflow.execute(rescan, {
      taskQueue,
      workflowId: `rescan-serial-${Date.now()}`,
      args: [{ batchSize: 5, concurrency: 2, batched: true, full: true }],
    });
    assert.equal(maxInFlight, 1);
    assert.deepEqual(batches.flat(), GATED, 'in page order');
    assert.equal(summary.checked, GATED.length);
  });
});
