/**
 * A delta rescan against a real Redis and Temporal, with the real workers: after advisories change,
 * the images it re-matches and the decisions it leaves are exactly what a re-match of every image from
 * scratch gives, and a full rescan afterwards finds nothing to record.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { type RescanSummary } from '../../../src/chain';
import { parseConfig } from '../../../src/config/load';
import { type Config } from '../../../src/config/schema';
import { DecisionStore, evaluatePolicy, factsFromScan, findingFactsDigest, policyFromConfig } from '../../../src/policy';
import { findingsDigest, FleetIndex, OsvSource, RedisSbomStore, rematchStored, rescanViewOf, toCycloneDx, versionDigests } from '../../../src/scan';
import { rescanSettings } from '../../../workers/temporal/schedules';
import { rescan } from '../../../workflows/rescan';
import { changeAdvisories, generateFleet, generateOsv, type Sizes, writeOsvExports } from '../../../bench/rescan-fleet';
import { useChainWorker, type RunningChainWorker } from '../../support/chain-worker';
import { recordHistory } from '../../support/histories';
import { onCleanup, testDataDir, useRedis, useRegistry, useTemporal } from '../../support/services';

/**
 * Small enough for a test, large enough that changed advisories reach some images and not others, and
 * dense enough that most images have more findings than a summary keeps (some of those the delta
 * leaves alone: their changes rank below the findings their decisions keep).
 */
const SIZES: Sizes = {
  images: 60,
  debianSources: 400,
  npmPackages: 900,
  pypiPackages: 400,
  debianRecords: 2000,
  npmRecords: 3000,
  npmMalicious: 100,
  pypiRecords: 300,
  pypiMalicious: 50,
};

const HYGIENE = {
  setuidFiles: [],
  shells: [],
  networkTools: [],
  user: '1000',
  runsAsRoot: false,
  privateKeys: [],
  totalSizeBytes: 1_000_000,
  compressedSizeBytes: 500_000,
  layerCount: 1,
  wastedBytes: 0,
  efficiency: 1,
  issues: [],
};

/** A finding as the gate compares them (regate's sameFindings: order aside). */
const factKeys = (
  findings: ReadonlyArray<{ id: string; package: string; version: string; ecosystem?: string; severity: string; fixable: boolean; fixedVersion?: string }>,
) => findings.map((f) => [f.id, f.package, f.version, f.ecosystem ?? '', f.severity, String(f.fixable), f.fixedVersion ?? ''].join(' ')).sort();

describe('delta rescan by package version: the same decisions as a re-match from scratch', () => {
  let config: Config;
  let chain: RunningChainWorker;
  let redis: Redis;
  let osvDir: string;
  const fleet = generateFleet(SIZES, 7);
  const osv = generateOsv(SIZES, 8);

  /** A batched rescan; its history kept as a replay fixture (RECORD_HISTORIES=1) when `history` names one. */
  const runRescan = async (id: string, full: boolean, history?: string): Promise<RescanSummary> => {
    const handle = await chain.client.workflow.start(rescan, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `${id}-${Date.now()}`,
      args: [{ ...rescanSettings(config), batchSize: 25, ...(full ? { full: true } : {}) }],
    });
    const summary = await handle.result();
    if (history) await recordHistory(history, handle, config.temporal.address as string);
    return summary;
  };

  /** Every image's findings in its latest decision, and as a re-match of its stored SBOM from scratch gives them. */
  const compare = async () => {
    const db = await new OsvSource({ directory: osvDir }).refresh();
    const sboms = new RedisSbomStore(redis);
    const decisions = new DecisionStore(redis);
    const now = new Date();
    const differing: string[] = [];
    for (const image of fleet) {
      const stored = await sboms.get(image.digest);
      assert.ok(stored, `stored SBOM of ${image.digest}`);
      const expected = factKeys(factsFromScan(rematchStored(db, rescanViewOf(stored), sboms.ref(image.digest), now, undefined).summary).findings);
      const recorded = factKeys((await decisions.latest(image.digest))?.facts.findings ?? []);
      if (JSON.stringify(expected) !== JSON.stringify(recorded)) differing.push(image.digest);
    }
    return differing;
  };

  before(async () => {
    const dataDir = testDataDir();
    const [temporal, redisServer, registry] = await Promise.all([useTemporal(dataDir), useRedis(dataDir), useRegistry({ name: 'source', dataDir })]);
    osvDir = join(dataDir, 'osv');
    writeOsvExports(osvDir, osv);
    const raw = {
      dataDir,
      temporal: { address: temporal.address, taskQueue: `rescan-delta-${process.pid}` },
      redis: { url: redisServer.url },
      registries: [{ name: 'source', url: registry.url }],
      scan: { osv: { directory: osvDir } },
      sync: { targets: [] },
      // Far from any firing time: no scheduled run joins the test's own.
      rescan: { interval: '3650d' },
    };
    config = parseConfig(raw);
    redis = new Redis(redisServer.url);
    onCleanup(() => redis.disconnect());

    // The fleet as the scan stage leaves it: stored SBOMs, decisions, the package index.
    const db = await new OsvSource({ directory: osvDir }).refresh();
    const sboms = new RedisSbomStore(redis);
    const decisions = new DecisionStore(redis);
    const index = new FleetIndex(redis);
    const policy = policyFromConfig(config);
    const now = new Date();
    for (const image of fleet) {
      const stored = {
        registry: 'source',
        repository: image.repository,
        digest: image.digest,
        scannedAt: now.toISOString(),
        os: image.os,
        hygiene: HYGIENE,
        sbom: toCycloneDx(
          { registryHost: 'registry.example', repository: image.repository, digest: image.digest, os: image.os, toolVersion: 'test' },
          image.packages,
          now,
        ),
      };
      const ref = await sboms.put(stored);
      const { summary, index: keys } = rematchStored(db, rescanViewOf(stored), ref, now, undefined);
      const facts = factsFromScan(summary);
      await decisions.record(facts, evaluatePolicy(facts, policy, now), now);
      await index.add(image.digest, keys(), db.info.version);
      // As the gate stage leaves it (after the scan stage's add): an image with no VEX attached.
      await index.setGatedRecord(image.digest, findingsDigest(summary.findings, []), findingFactsDigest(facts.findings));
    }
    chain = await useChainWorker(config);
  });

  it('re-matches only the images holding a version whose hits changed, and leaves every decision as a full re-match would', async () => {
    const full = await runRescan('rescan-full', true);
    assert.deepEqual([full.plan?.mode, full.checked, full.failed], ['full', SIZES.images, 0], JSON.stringify(full));
    assert.deepEqual(await compare(), [], 'the full rescan matches as from scratch');

    const changed = changeAdvisories(osv, 12, 9);
    writeOsvExports(osvDir, osv);
    const delta = await runRescan('rescan-delta', false, 'rescan-match-and-gate');
    assert.equal(delta.plan?.mode, 'delta', JSON.stringify(delta.plan));
    assert.equal(delta.failed, 0, JSON.stringify(delta.problems));
    const planned = delta.plan?.images ?? -1;
    // The changes reach some images (or the comparison below proves nothing) and not all of them.
    assert.ok(delta.recorded > 0, `${changed.length} advisories changed the findings of some image: ${JSON.stringify(delta)}`);
    assert.ok(planned < SIZES.images, `not every image is re-matched: ${planned} (${JSON.stringify(delta)})`);
    // Some images hold a changed version whose findings differ only below where theirs were cut: left alone (and checked below).
    assert.ok((delta.plan?.belowCut ?? 0) > 0, `some images left alone below their cut: ${JSON.stringify(delta.plan)}`);
    assert.deepEqual(await compare(), [], 'the images the delta left alone match as they did, the others as re-matched');

    // Nothing changed since: nothing to re-match (the images the delta left alone moved on with it).
    const quiet = await runRescan('rescan-quiet', false);
    assert.deepEqual([quiet.plan?.mode, quiet.plan?.images], ['delta', 0], JSON.stringify(quiet.plan));

    // A full rescan on the same data finds every image as the delta left it.
    const again = await runRescan('rescan-full-again', true);
    assert.deepEqual([again.failed, again.recorded, again.changedToDenied, again.changedToAllowed], [0, 0, 0, 0], JSON.stringify(again));

    // Changed data under a full rescan: the images it reaches are re-gated on their new findings (the
    // others as their decision was gated, told by the fleet index's digest), every decision as from scratch.
    changeAdvisories(osv, 12, 10);
    writeOsvExports(osvDir, osv);
    const fullChanged = await runRescan('rescan-full-changed', true);
    assert.equal(fullChanged.failed, 0, JSON.stringify(fullChanged.problems));
    assert.ok(fullChanged.recorded > 0 && fullChanged.recorded < SIZES.images, JSON.stringify(fullChanged));
    assert.deepEqual(await compare(), [], 'every decision as a re-match from scratch');
    // That full rescan digested only the versions the changed records touch (the data the last one
    // matched was in memory): every version's stored digest is the one digested from scratch.
    const index = new FleetIndex(redis);
    const versions = await index.versionsUnder();
    const scratch = versionDigests(await new OsvSource({ directory: osvDir }).refresh(), versions);
    const stored = await index.versionDigests(versions);
    assert.ok(versions.length > 0 && [...scratch.values()].some((d) => d !== ''), 'versions with hits to compare');
    assert.deepEqual(
      versions.filter((v) => stored.get(v) !== scratch.get(v)),
      [],
      'the stored digest of every version the fleet holds is the one digested from scratch',
    );
  });
});
