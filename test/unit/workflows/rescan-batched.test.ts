import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { rescan } from '../../../workflows/rescan';
import { startRescanWorkers } from '../../support/rescan-workers';

/**
 * The batched rescan on a real Temporal dev server, with the activities replaced by an in-memory
 * fleet: a delta plan paged a batch per activity across continue-as-new runs, carried images not
 * re-gated, follow-ups only for the images that ask for them, the fingerprint committed once.
 */
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const PLANNED = Array.from({ length: 12 }, (_, i) => digest(i + 1));
const CARRIED = new Set([digest(2), digest(7), digest(8)]);
const NOW_DENIED = digest(4);
const UNREADABLE = digest(9);
/** Its batch's first attempt fails: the retry does it (the real activity resumes from its heartbeat). */
const FLAKY_BATCH = digest(5);

describe('batched rescan workflow: a delta plan, a batch per activity, continue-as-new', () => {
  const matchedBatches: string[][] = [];
  const regated: string[] = [];
  const attested: string[] = [];
  const notified: string[] = [];
  const planCalls: Array<{ osvVersion: string; full?: boolean }> = [];
  let commits = 0;
  let flakyFailed = false;
  let client: Client;
  let taskQueue: string;
  let stop: () => Promise<void> = async () => undefined;

  before(async () => {
    const activities = {
      async refreshOsvData() {
        return { version: 'osv-2', records: 42, rejected: 0 };
      },
      async planRescan(input: { osvVersion: string; full?: boolean }) {
        planCalls.push(input);
        return { mode: 'delta', changedPackages: 3, images: PLANNED.length };
      },
      async listPlanPage({ after, limit }: { after?: string; limit: number }) {
        const from = after === undefined ? 0 : PLANNED.findIndex((d) => d > after);
        const digests = from < 0 ? [] : PLANNED.slice(from, from + limit);
        const last = digests[digests.length - 1];
        return last !== undefined && last !== PLANNED[PLANNED.length - 1] ? { digests, next: last } : { digests };
      },
      async listGatedDigests() {
        throw ApplicationFailure.create({ message: 'a delta pages its plan, not every gated digest', nonRetryable: true });
      },
      async rescanBatch({ digests, osvVersion, carry }: { digests: string[]; osvVersion: string; carry?: boolean }) {
        assert.equal(osvVersion, 'osv-2');
        assert.equal(carry, true);
        if (digests.includes(FLAKY_BATCH) && !flakyFailed) {
          flakyFailed = true;
          throw ApplicationFailure.create({ message: 'worker lost' });
        }
        matchedBatches.push(digests);
        return {
          matched: digests.filter((d) => d !== UNREADABLE).length,
          unreadable: digests.includes(UNREADABLE) ? [{ digest: UNREADABLE, error: `no stored SBOM for ${UNREADABLE}` }] : [],
          carried: digests.filter((d) => CARRIED.has(d)),
        };
      },
      async regateBatch({ digests }: { digests: string[] }) {
        regated.push(...digests);
        const denied = digests.includes(NOW_DENIED);
        return {
          recorded: denied ? 2 : 0,
          overridden: 0,
          unchanged: digests.length - (denied ? 2 : 0),
          changedToDenied: denied ? 2 : 0,
          changedToAllowed: 0,
          skipped: 0,
          failed: [],
          followUps: [NOW_DENIED, UNREADABLE]
            .filter((d) => digests.includes(d))
            .map((d) => ({
              digest: d,
              registry: 'source',
              repository: 'team/app',
              verdict: 'denied',
              allowed: false,
              previousAllowed: true,
              overridden: false,
              recorded: true,
              notify: 'denied',
              policyVersion: 'p:1',
              violations: [],
              osvVersion: 'osv-2',
              attest: true,
            })),
        };
      },
      /** The re-match and the re-gate of a batch in one activity: what the mocks above do, one after the other. */
      async rescanGateBatch(input: { digests: string[]; osvVersion: string; carry?: boolean }): Promise<Record<string, unknown>> {
        const matched = await activities.rescanBatch(input);
        const carried = new Set(matched.carried);
        const toGate = input.digests.filter((d) => !carried.has(d));
        return { ...matched, ...(await activities.regateBatch({ digests: toGate })) };
      },
      async restartUnblocked() {
        return undefined;
      },
      async deployedWorkloads() {
        return { workloads: [], events: [] };
      },
      async rebuildDeployed() {
        return undefined;
      },
      async attestVerdict({ digest: d }: { digest: string }) {
        attested.push(d);
        return { result: 'FAILED', timeVerified: new Date().toISOString(), repositories: [] };
      },
      async notifySubscribers(input: { digest: string }) {
        notified.push(input.digest);
        return [];
      },
      async markRescanNotified() {
        return true;
      },
      async commitRescanPlan() {
        commits++;
        return true;
      },
    };
    ({ client, taskQueue, stop } = await startRescanWorkers('rescan-batched', activities));
  });

  after(() => stop());

  it('pages the plan a batch per activity, re-gates only what was not carried, and commits once', async () => {
    const handle = await client.workflow.start(rescan, {
      taskQueue,
      workflowId: `rescan-batched-${Date.now()}`,
      args: [{ batchSize: 5, concurrency: 2, batchesPerRun: 1, batched: true }],
    });
    const summary = await handle.result();

    assert.deepEqual(planCalls, [{ osvVersion: 'osv-2' }], 'planned once, by the first run');
    assert.deepEqual(matchedBatches, [PLANNED.slice(0, 5), PLANNED.slice(5, 10), PLANNED.slice(10)], 'a batch per page; the failed attempt retried');
    assert.ok(flakyFailed);
    assert.deepEqual(
      regated,
      PLANNED.filter((d) => !CARRIED.has(d)),
    );
    assert.deepEqual(attested.sort(), [NOW_DENIED, UNREADABLE].sort());
    assert.deepEqual(notified.sort(), [NOW_DENIED, UNREADABLE].sort());
    assert.equal(commits, 1);
    assert.equal(summary.runs, 3, 'one page a run: continued as new twice');
    assert.deepEqual(summary.plan, { mode: 'delta', changedPackages: 3, images: 12 });
    assert.equal(summary.checked, 12);
    assert.equal(summary.unchanged, 3 + 7, 'carried, and re-gated without change');
    assert.equal(summary.changedToDenied, 2);
    assert.equal(summary.failed, 0);
    assert.deepEqual(
      summary.problems.map((p) => [p.digest, p.step]),
      [[UNREADABLE, 'rescan']],
    );
    const first = await client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).describe();
    assert.equal(first.status.name, 'CONTINUED_AS_NEW');
  });
});
