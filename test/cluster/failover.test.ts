/**
 * Failover on the cluster topology (`npm run test:cluster`): two Temporal server processes on
 * PostgreSQL, Redis with a replica behind Sentinel, two of each project process behind haproxy.
 * Each scenario pushes a burst of images with their own digests, kills one piece while the burst is
 * in flight, and counts what became of every digest. Every row must show lost = 0, duplicated = 0.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { clusterMembers } from '../../workers/local/temporal-server';
import { findTool } from '../../workers/local/tools';
import { burst, printTable, type Row, settle } from '../support/cluster-load';
import { type TestCluster, useCluster } from './harness';

const SETTLE_MS = 6 * 60_000;
/** Sentinels here call a primary down after 1 s; an election and a promotion take a few more. */
const PROMOTION_MS = 60_000;
const rows: Row[] = [];

/** Runs a burst, calls `inject` once `at` images are pushed, and records the scenario's row. */
async function scenario(cluster: TestCluster, name: string, count: number, at: number, inject: () => Promise<string>): Promise<Row> {
  const repository = `failover/${name}`;
  let injected: Promise<{ what: string; atMs: number }> | undefined;
  const digests = await burst(cluster, repository, count, 4, (n) => {
    if (n === at) injected = (async () => ({ atMs: Date.now(), what: await inject() }))();
  });
  const { what, atMs } = await (injected as NonNullable<typeof injected>);
  const result = await settle(cluster, repository, digests, SETTLE_MS);
  const row = {
    scenario: name,
    injected: what,
    digests: count,
    completed: result.completed,
    lost: result.lost,
    duplicated: result.duplicated,
    recovery_s: Math.round(Math.max(0, result.lastCloseMs - atMs) / 100) / 10,
  };
  rows.push(row);
  return row;
}

/** The port of the node Sentinel promoted in place of `old`, or undefined if none within `timeoutMs`. */
async function promotedWithin(cluster: TestCluster, old: number, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const primary = await cluster.redis.currentPrimary().catch(() => old);
    if (primary !== old) return primary;
    await delay(250);
  }
  return undefined;
}

describe('cluster topology: failover', { timeout: 60 * 60_000 }, () => {
  let cluster: TestCluster;
  before(
    async () => {
      cluster = await useCluster();
    },
    { timeout: 15 * 60_000 },
  );
  after(() => printTable(rows));

  it('forms one Temporal cluster of two server processes; a push completes through haproxy and the search attributes filter it', async () => {
    const members = clusterMembers(cluster.postgres);
    for (const service of ['frontend', 'history', 'matching', 'worker']) {
      const addresses = members.filter((m) => m.service === service).map((m) => m.address.split(':')[0]);
      assert.deepEqual(addresses.sort(), ['127.0.0.2', '127.0.0.3'], `${service} members: ${JSON.stringify(members)}`);
    }
    const row = await scenario(cluster, 'baseline', 1, 1, async () => 'nothing');
    assert.equal(row.completed, 1, JSON.stringify(row));
    const temporal = findTool('temporal');
    assert.ok(temporal, 'the Temporal CLI (npm run setup)');
    const listed = spawnSync(
      temporal,
      [
        'workflow',
        'list',
        '--address',
        cluster.config.temporal.address as string,
        '--query',
        'DcVerdict = "allowed" AND DcRepository = "source/failover/baseline"',
        '-o',
        'json',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(listed.status, 0, listed.stderr);
    assert.equal((JSON.parse(listed.stdout || '[]') as unknown[]).length, 1, listed.stdout);
  });

  it('kills one Temporal server process during a burst of 50 pushes', async () => {
    const victim = cluster.temporal[1];
    assert.ok(victim);
    const row = await scenario(cluster, 'temporal-node', 50, 10, async () => {
      await victim.process.kill();
      return `SIGKILL temporal ${victim.name} (${victim.ip}) at push 10`;
    });
    await victim.process.start();
    assert.deepEqual([row.lost, row.duplicated], [0, 0], JSON.stringify(row));
  });

  it('SIGKILLs the Redis primary with events in flight; Sentinel promotes the replica and no client restarts', async () => {
    await cluster.redis.waitFailoverReady(60_000);
    let killed: TestCluster['redis']['nodes'][number] | undefined;
    let promotion: Promise<number | undefined> | undefined;
    try {
      const row = await scenario(cluster, 'redis-primary', 30, 8, async () => {
        const primary = await cluster.redis.currentPrimary();
        killed = cluster.redis.nodes.find((n) => n.port === primary);
        assert.ok(killed);
        await killed.process.kill();
        promotion = promotedWithin(cluster, primary, PROMOTION_MS);
        return `SIGKILL redis primary :${primary} at push 8`;
      });
      const promoted = await promotion;
      assert.ok(promoted !== undefined, `Sentinel promoted the replica within ${PROMOTION_MS} ms:\n${await cluster.redis.describe()}`);
      assert.deepEqual([row.lost, row.duplicated], [0, 0], JSON.stringify(row));
    } finally {
      // Like a pod restart: the old primary comes back and Sentinel makes it the new primary's replica.
      // Also when the scenario failed, so that the scenarios after it start from a whole Redis.
      await killed?.process.start();
    }
    await cluster.redis.waitFailoverReady(60_000);
  });

  it('kills one API replica under load; the registry reaches the other through haproxy', async () => {
    const victim = cluster.own.api[0];
    assert.ok(victim);
    const row = await scenario(cluster, 'api-replica', 30, 8, async () => {
      await victim.kill();
      return `SIGKILL ${victim.name} at push 8`;
    });
    await victim.start();
    assert.deepEqual([row.lost, row.duplicated], [0, 0], JSON.stringify(row));
  });

  it('kills one worker of each kind mid-activity', async () => {
    const victims = [cluster.own['ingest-worker'][0], cluster.own['chain-worker'][0], cluster.own['scan-worker'][0]];
    const row = await scenario(cluster, 'workers', 20, 6, async () => {
      // Mid-activity: wait until chains are in their stages, not merely queued.
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const busy = await cluster.client.workflow.count('DcRepository = "source/failover/workers" AND ExecutionStatus = "Running"');
        if (busy.count > 0) break;
        await delay(200);
      }
      await Promise.all(victims.map((v) => v?.kill()));
      return `SIGKILL ${victims.map((v) => v?.name).join(', ')} with chains running`;
    });
    for (const v of victims) await v?.start();
    assert.deepEqual([row.lost, row.duplicated], [0, 0], JSON.stringify(row));
  });
});
