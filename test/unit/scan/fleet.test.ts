import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import {
  deltaImages,
  findingsDigest,
  FleetIndex,
  imageIndex,
  MATCHER_VERSION,
  osvFingerprint,
  type OsvFingerprint,
  rematchStored,
  rescanViewOf,
  rescanMode,
  toCycloneDx,
  uncheckedRescan,
  versionDigests,
} from '../../../src/scan';
import { RedisSbomStore } from '../../../src/scan';
import { ChainError } from '../../../src/errors';
import { importDirectory, matchPackages, OsvDatabase, type OsvRecord } from '../../../src/scan/osv';
import { type Finding, type Package } from '../../../src/scan/types';
import { MAX_SUMMARY_FINDINGS, summarize } from '../../../src/scan/scan-image';
import { cacheBound } from '../../../src/scan/fleet/match-cache';
import { findingFacts } from '../../../src/policy/facts-from-scan';
import { findingFactsDigest } from '../../../src/policy/findings-digest';
import { onCleanup, testDataDir, useRedis } from '../../support/services';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'osv');
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

const record = (id: string, ecosystem: string, name: string, fixed: string, modified = '2025-01-01T00:00:00Z'): OsvRecord =>
  ({
    id,
    modified,
    affected: [{ package: { ecosystem, name }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }] }],
  }) as OsvRecord;

const npm = (name: string, version: string, layer = 'sha256:l1'): Package => ({
  name,
  version,
  ecosystem: 'npm',
  purl: `pkg:npm/${name}@${version}`,
  layer,
  location: `app/node_modules/${name}/package.json`,
});

const deb = (name: string, source: string, version: string, layer = 'sha256:l0'): Package => ({
  name,
  version,
  ecosystem: 'Debian',
  purl: `pkg:deb/debian/${name}@${version}?distro=debian-12`,
  layer,
  location: 'var/lib/dpkg/status',
  sourceName: source,
  sourceVersion: version,
  release: 'Debian:12',
});

/** rematchStored of an image stored with `packages` as its SBOM (the fleet path), digest n. */
const rematchImage = (db: Parameters<typeof rematchStored>[0], n: number, packages: Package[]) => {
  const stored = {
    registry: 'r',
    repository: 'app',
    digest: digest(n),
    scannedAt: '2025-01-01T00:00:00Z',
    hygiene: {} as never,
    sbom: toCycloneDx({ registryHost: 'r.example', repository: 'app', digest: digest(n), toolVersion: 'test' }, packages),
  };
  return rematchStored(db, rescanViewOf(stored), { store: 'memory', key: '', digest: digest(n), format: 'cyclonedx-1.6' }, new Date(), undefined);
};

describe('fleet rescans: OSV fingerprint, package index, delta plan', () => {
  let redis: Redis;

  before(async () => {
    const server = await useRedis(testDataDir());
    redis = new Redis(server.url);
    onCleanup(() => redis.disconnect());
  });

  after(async () => {
    await redis.flushall();
  });

  it('fingerprints OSV data per package: a changed, added or withdrawn record changes its package only', () => {
    const base = [record('GHSA-1', 'npm', 'lodash', '4.17.21'), record('GHSA-2', 'npm', 'minimist', '1.2.6'), record('PYSEC-1', 'PyPI', 'Requests', '2.31.0')];
    const before = osvFingerprint(new OsvDatabase(base));
    assert.deepEqual(osvFingerprint(new OsvDatabase([...base].reverse())), before, 'the same records, in any order, fingerprint the same');
    const changed = osvFingerprint(new OsvDatabase([record('GHSA-1', 'npm', 'lodash', '4.17.22', '2025-02-01T00:00:00Z'), base[1]!, base[2]!]));
    const added = osvFingerprint(new OsvDatabase([...base, record('GHSA-3', 'npm', 'express', '4.19.2')]));
    const withdrawn = osvFingerprint(new OsvDatabase([base[0]!, { ...base[1]!, withdrawn: '2025-03-01T00:00:00Z' } as OsvRecord, base[2]!]));
    const changedKeys = (a: OsvFingerprint, b: OsvFingerprint) => {
      const mode = rescanMode(
        { osvVersion: 'v1', matcher: MATCHER_VERSION, policyVersion: 'p', fullAt: '', fingerprint: a },
        { policyVersion: 'p', fingerprint: b },
      );
      assert.equal(mode.mode, 'delta');
      return mode.mode === 'delta' ? mode.changed.map((k) => k.split('\u0000')[1]) : [];
    };
    assert.deepEqual(changedKeys(before, changed), ['lodash']);
    assert.deepEqual(changedKeys(before, added), ['express']);
    assert.deepEqual(changedKeys(before, withdrawn), ['minimist']);
    assert.deepEqual(changedKeys(before, before), []);
  });

  it('indexes an image under every key the matcher looks its packages up by (Debian by source, PyPI names normalised)', () => {
    const db = new OsvDatabase([record('DEBIAN-CVE-1', 'Debian:12', 'openssl', '3.0.11-1'), record('PYSEC-1', 'PyPI', 'requests', '2.31.0')]);
    const { keys, versions } = imageIndex([
      deb('libssl3', 'openssl', '3.0.9-1'),
      { ...npm('x', '1.0.0'), name: 'Requests', ecosystem: 'PyPI', purl: 'pkg:pypi/requests@2.0.0' },
    ]);
    // Each version under the key it is looked up by, with the query's own ecosystem (the release and the bare one for Debian).
    assert.deepEqual(versions.sort(), [
      'Debian\u0000openssl\u0001Debian\u00013.0.9-1',
      'Debian:12\u0000openssl\u0001Debian:12\u00013.0.9-1',
      'PyPI\u0000requests\u0001PyPI\u00011.0.0',
    ]);
    const indexed = new Set(keys);
    for (const [key] of db.packages()) assert.ok(indexed.has(key), `${JSON.stringify(key)} in ${JSON.stringify(keys)}`);
  });

  it('goes full without an earlier fingerprint, for another matcher or policy, or when asked; delta otherwise', () => {
    const fp = new Map([['npm\u0000lodash', 'a']]);
    const previous = { osvVersion: 'v1', matcher: MATCHER_VERSION, policyVersion: 'p1', fullAt: '2025-01-01T00:00:00Z', fingerprint: fp };
    assert.equal(rescanMode(undefined, { policyVersion: 'p1', fingerprint: fp }).mode, 'full');
    assert.match((rescanMode({ ...previous, matcher: '0' }, { policyVersion: 'p1', fingerprint: fp }) as { reason: string }).reason, /matcher changed/);
    assert.match((rescanMode(previous, { policyVersion: 'p2', fingerprint: fp }) as { reason: string }).reason, /policy changed/);
    assert.equal(rescanMode(previous, { policyVersion: 'p1', fingerprint: fp }, true).mode, 'full');
    assert.deepEqual(rescanMode(previous, { policyVersion: 'p1', fingerprint: fp }), { mode: 'delta', changed: [] });
  });

  it('plans a delta: images under changed packages, matched against other data, untold, or with a summary due; gated ones only', () => {
    const now = Date.parse('2025-06-01T12:00:00Z');
    const planned = deltaImages({
      changedPackages: [digest(1), digest(9)],
      gated: [digest(1), digest(2), digest(3), digest(4), digest(5), digest(6), digest(7)],
      state: {
        matched: new Map([
          [digest(1), 'v1'],
          [digest(2), 'v0'],
          [digest(3), 'v1'],
          [digest(4), 'v1'],
          [digest(5), 'v1'],
          [digest(6), 'v1'],
        ]),
        unnotified: [digest(3)],
        attested: new Map([
          [digest(4), ''],
          [digest(5), '2025-06-01T11:00:00Z'],
          [digest(6), '2025-05-31T00:00:00Z'],
        ]),
      },
      previousOsvVersion: 'v1',
      attestBefore: new Date(now - 3_600_000 * 2),
    });
    // 1: changed package; 2: matched against v0; 3: untold; 4: never signed; 6: summary due; 7: never indexed. Not 5 (fresh), not 9 (not gated).
    assert.deepEqual(planned.planned, [digest(1), digest(2), digest(3), digest(4), digest(6), digest(7)]);
    // Re-gated even if they match as before: the untold change and the summaries due.
    assert.deepEqual(planned.mustRegate, [digest(3), digest(4), digest(6)]);
  });

  it('matches a fleet as matchPackages does, findings stamped with each image’s own layer', async () => {
    const db = new OsvDatabase((await importDirectory(FIXTURES)).records);
    const images = [
      [npm('minimist', '1.2.0', 'sha256:a'), npm('lodash', '4.17.11', 'sha256:a'), deb('login', 'shadow', '1:4.13+dfsg1-1', 'sha256:a')],
      [npm('lodash', '4.17.11', 'sha256:b'), npm('minimist', '1.2.0', 'sha256:b'), deb('passwd', 'shadow', '1:4.13+dfsg1-1', 'sha256:b')],
      [npm('lodash', '4.17.21', 'sha256:c')],
    ];
    let findings = 0;
    for (const [n, packages] of images.entries()) {
      const { summary } = rematchImage(db, n + 1, packages);
      const expected = matchPackages(db, packages);
      assert.deepEqual(summary.findings, expected);
      findings += expected.length;
      for (const f of summary.findings) assert.equal(f.package.layer, packages[0]!.layer);
    }
    assert.ok(findings >= 4, `the fixtures match (${findings} findings)`);
  });

  it('hands the gate the cache’s findings: facts as of the summary’s, one fact per cached finding whatever image or layer holds it', async () => {
    const db = new OsvDatabase((await importDirectory(FIXTURES)).records);
    const one = [npm('lodash', '4.17.11', 'sha256:a'), deb('login', 'shadow', '1:4.13+dfsg1-1', 'sha256:a')];
    const two = [deb('passwd', 'shadow', '1:4.13+dfsg1-1', 'sha256:b'), npm('lodash', '4.17.11', 'sha256:c'), npm('minimist', '1.2.0', 'sha256:c')];
    const a = rematchImage(db, 11, one);
    const b = rematchImage(db, 12, two);
    for (const [image, packages] of [
      [a, one],
      [b, two],
    ] as const) {
      // The summary's findings are what matchPackages gives, each in this image's layer; the gate's are the same findings.
      assert.deepEqual(image.summary.findings, matchPackages(db, packages));
      assert.equal(image.findings.length, image.summary.findings.length);
      const fresh = structuredClone(image.summary.findings);
      assert.deepEqual(findingFacts(image.findings), findingFacts(fresh));
      assert.equal(findingFactsDigest(findingFacts(image.findings)), findingFactsDigest(findingFacts(fresh)));
      assert.notEqual(findingFacts(fresh)[0], findingFacts(image.findings)[0]);
    }
    // The same advisory on the same lodash in layers a and c: one cached finding, one fact.
    const lodash = (fs: readonly Finding[]) => fs.find((f) => f.package.name === 'lodash')!;
    assert.equal(lodash(a.summary.findings).package.layer, 'sha256:a');
    assert.equal(lodash(b.summary.findings).package.layer, 'sha256:c');
    assert.equal(lodash(a.findings), lodash(b.findings));
    assert.equal(findingFacts([lodash(a.findings)])[0], findingFacts([lodash(b.findings)])[0]);
  });

  it('orders an image’s findings as matchPackages does: severity, negligible ones last, then id, then purl', () => {
    const debian = (id: string, source: string, urgency: string | undefined): OsvRecord =>
      ({
        id,
        modified: '2025-01-01T00:00:00Z',
        affected: [
          {
            package: { ecosystem: 'Debian:12', name: source },
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '9.0-1' }] }],
            ...(urgency ? { ecosystem_specific: { urgency } } : {}),
          },
        ],
      }) as OsvRecord;
    // Ids whose code-point order is not their collation order (case, digits), one advisory over two sources' binaries.
    const db = new OsvDatabase([
      debian('DEBIAN-CVE-b', 'shadow', 'unimportant'),
      debian('debian-CVE-a', 'shadow', 'high'),
      debian('DEBIAN-CVE-10', 'openssl', 'high'),
      debian('DEBIAN-CVE-Z', 'openssl', 'high'),
      debian('DEBIAN-CVE-9', 'openssl', 'unimportant'),
      debian('DEBIAN-CVE-B', 'openssl', 'low'),
      debian('DEBIAN-CVE-c', 'zlib', undefined),
      debian('DEBIAN-CVE-c', 'shadow', undefined),
      record('GHSA-z', 'npm', 'lodash', '9.0.0'),
    ]);
    const images = [
      [
        deb('passwd', 'shadow', '1.0-1', 'sha256:a'),
        deb('libssl3', 'openssl', '1.0-1', 'sha256:a'),
        npm('lodash', '4.17.11', 'sha256:a'),
        deb('zlib1g', 'zlib', '1.0-1', 'sha256:a'),
      ],
      [
        deb('login', 'shadow', '1.0-1', 'sha256:b'),
        deb('openssl', 'openssl', '1.0-1', 'sha256:b'),
        deb('libssl3', 'openssl', '1.0-1', 'sha256:b'),
        deb('passwd', 'shadow', '1.0-1', 'sha256:b'),
      ],
    ];
    for (const [n, packages] of images.entries()) {
      const { summary } = rematchImage(db, n + 1, packages);
      const expected = matchPackages(db, packages);
      assert.ok(expected.some((f) => f.negligible) && expected.some((f) => !f.negligible), 'negligible and other findings');
      assert.deepEqual(summary.findings, expected, `image ${n}`);
      // Code-unit order, not a locale's: DEBIAN-CVE-Z before debian-CVE-a (a collation puts a before Z).
      const rank = (f: (typeof expected)[number]) => `${f.negligible ? 1 : 0}${f.severity}`;
      for (const [i, f] of expected.entries()) {
        const next = expected[i + 1];
        if (next && rank(f) === rank(next)) assert.ok(f.id < next.id || (f.id === next.id && f.package.purl <= next.package.purl), `${f.id} before ${next.id}`);
      }
      const high = expected.filter((f) => f.severity === 'HIGH').map((f) => f.id);
      assert.ok(high.indexOf('DEBIAN-CVE-Z') < high.indexOf('debian-CVE-a'), high.join(' '));
      // The digest a delta decides on, from the keys kept with the cached findings: findingsDigest's.
      for (const vex of [undefined, [], [{ vulnerability: 'x' }]])
        assert.equal(rematchImage(db, n + 1, packages).digest(vex), findingsDigest(summary.findings, vex));
    }
  });

  it('re-matches after a refresh only what changed: findings as matchPackages gives them on the new data', async () => {
    const lodash = record('GHSA-l', 'npm', 'lodash', '4.17.21');
    const minimist = record('GHSA-m', 'npm', 'minimist', '1.2.6');
    const ssl = record('DEBIAN-CVE-1', 'Debian:12', 'openssl', '3.0.11-1');
    const images = [
      [npm('lodash', '4.17.11'), npm('minimist', '1.2.0'), deb('libssl3', 'openssl', '3.0.9-1')],
      [npm('lodash', '4.17.20', 'sha256:b'), deb('openssl', 'openssl', '3.0.9-1', 'sha256:b')],
    ];
    const rematch = (db: OsvDatabase, packages: Package[], n: number) => {
      const stored = {
        registry: 'r',
        repository: 'app',
        digest: digest(n),
        scannedAt: '2025-01-01T00:00:00Z',
        hygiene: {} as never,
        sbom: toCycloneDx({ registryHost: 'r.example', repository: 'app', digest: digest(n), toolVersion: 'test' }, packages),
      };
      return rematchStored(db, rescanViewOf(stored), { store: 'memory', key: '', digest: digest(n), format: 'cyclonedx-1.6' }, new Date(), undefined).summary
        .findings;
    };
    const first = new OsvDatabase([lodash, minimist, ssl]);
    for (const [n, packages] of images.entries()) assert.deepEqual(rematch(first, packages, n), matchPackages(first, packages));
    // A refresh: lodash and openssl as the same records, minimist fixed earlier, a new advisory for lodash.
    const second = new OsvDatabase([
      lodash,
      record('GHSA-m', 'npm', 'minimist', '1.2.0', '2025-02-01T00:00:00Z'),
      ssl,
      record('GHSA-l2', 'npm', 'lodash', '4.17.12'),
    ]);
    for (const [n, packages] of images.entries()) assert.deepEqual(rematch(second, packages, n), matchPackages(second, packages), `image ${n}`);
    assert.notDeepEqual(matchPackages(second, images[0]!), matchPackages(first, images[0]!), 'the refresh changed findings');
    // Another: every lodash record gone (its key with them), openssl's the same objects; then a batch still on the older data.
    const third = new OsvDatabase([record('GHSA-m', 'npm', 'minimist', '1.2.0', '2025-02-01T00:00:00Z'), ssl]);
    for (const [n, packages] of images.entries()) assert.deepEqual(rematch(third, packages, n), matchPackages(third, packages), `image ${n}, third`);
    assert.ok(!rematch(third, images[1]!, 1).some((f) => f.package.name === 'lodash'), 'no findings under a key the data no longer has');
    for (const [n, packages] of images.entries()) assert.deepEqual(rematch(second, packages, n), matchPackages(second, packages), `image ${n}, second again`);
  });

  it('keeps a package→images index as bitmaps: ids assigned once, lookups across many images', async () => {
    const index = new FleetIndex(redis, 'test:fleet1:');
    const keys = (k: string[]) => ({ keys: k, versions: [] });
    for (let n = 1; n <= 40; n++) await index.add(digest(n), keys(n % 3 === 0 ? ['npm\u0000lodash', 'npm\u0000a'] : ['npm\u0000b']), 'v1');
    await index.add(digest(3), keys(['npm\u0000lodash']), 'v2'); // indexed again: the same id
    const withLodash = await index.imagesWith(['npm\u0000lodash']);
    assert.deepEqual(withLodash.sort(), Array.from({ length: 13 }, (_, i) => digest((i + 1) * 3)).sort());
    assert.equal((await index.imagesWith(['npm\u0000lodash', 'npm\u0000b'])).length, 40);
    assert.deepEqual(await index.imagesWith(['npm\u0000nothing']), []);
    assert.deepEqual(await index.indexed([digest(1), digest(99)]), [true, false]);
    assert.equal((await index.state()).matched.get(digest(3)), 'v2');
    assert.equal(await redis.keys('test:fleet1:tmp:*').then((k) => k.length), 0, 'no scratch key left');
  });

  it('finds the images whose findings a change can touch by version: the versions whose hits differ from the committed digests, and images indexed before versions were', async () => {
    const index = new FleetIndex(redis, 'test:fleet5:');
    const v1 = new OsvDatabase([record('GHSA-1', 'npm', 'lodash', '4.17.12'), record('GHSA-2', 'npm', 'other', '1.0.0')]);
    // GHSA-1 now fixed earlier, in 4.17.11: 4.17.11 is no longer affected, 4.17.10 gets another fix version, 4.17.21 stays clean.
    const v2 = new OsvDatabase([record('GHSA-1', 'npm', 'lodash', '4.17.11', '2025-02-01T00:00:00Z'), record('GHSA-2', 'npm', 'other', '1.0.0')]);
    const images = [npm('lodash', '4.17.11'), npm('lodash', '4.17.10'), npm('lodash', '4.17.21'), npm('other', '0.1.0')];
    for (const [n, pkg] of images.entries()) await index.add(digest(n + 1), imageIndex([pkg]), 'v1');
    // Indexed by key only (before versions were): any change under its key re-matches it.
    await index.add(digest(9), { keys: ['npm\u0000lodash'], versions: [] }, 'v1');
    await redis.setbit('test:fleet5:vidx', Number(await redis.hget('test:fleet5:ids', digest(9))), 0);
    assert.deepEqual(await index.indexed([digest(1), digest(9)]), [true, false]);
    await index.stageFingerprint('full', { osvVersion: 'v1', matcher: MATCHER_VERSION, policyVersion: 'p', fullAt: 'x', fingerprint: osvFingerprint(v1) });
    const all = await index.versionsUnder();
    assert.equal(all.length, 4);
    await index.stageVersionDigests('full', versionDigests(v1, all), true);
    await index.commitFingerprint('full');

    const changed = rescanMode(await index.fingerprint(), { policyVersion: 'p', fingerprint: osvFingerprint(v2) });
    assert.deepEqual(changed, { mode: 'delta', changed: ['npm\u0000lodash'] });
    const under = await index.versionsUnder(changed.mode === 'delta' ? changed.changed : []);
    assert.equal(under.length, 3);
    const before = await index.versionDigests(under);
    const now = versionDigests(v2, under);
    const differ = under.filter((v) => before.get(v) !== now.get(v));
    // 4.17.10: fixed in 4.17.11 now, a finding with another fix. 4.17.11: no longer affected. 4.17.21: clean before and after.
    assert.deepEqual([...(await index.holdersOf(differ)).keys()].sort(), [digest(1), digest(2)]);
    assert.deepEqual(await index.unversionedWith(['npm\u0000lodash']), [digest(9)]);
    // Against the same data nothing differs; a version never digested is unknown, so it counts as changed.
    assert.deepEqual(
      under.filter((v) => before.get(v) !== versionDigests(v1, under).get(v)),
      [],
    );
    assert.equal((await index.versionDigests(['npm\u0000lodash\u0001npm\u00019.9.9'])).get('npm\u0000lodash\u0001npm\u00019.9.9'), null);

    // Committed with a delta: merged, and the images matched against v1 move on to v2.
    await index.stageFingerprint('delta', { osvVersion: 'v2', matcher: MATCHER_VERSION, policyVersion: 'p', fullAt: 'x', fingerprint: osvFingerprint(v2) });
    await index.stageVersionDigests('delta', now, false);
    await index.commitFingerprint('delta');
    const committed = await index.versionDigests(all);
    for (const v of under) assert.equal(committed.get(v), now.get(v));
    const otherEntry = all.find((v) => v.includes('other'))!;
    assert.notEqual(committed.get(otherEntry), null, 'entries of unchanged packages stay');
    assert.equal((await index.state()).matched.get(digest(4)), 'v2');
  });

  it('commits a staged fingerprint once, and keeps what it names across reads', async () => {
    const index = new FleetIndex(redis, 'test:fleet2:');
    assert.equal(await index.fingerprint(), undefined);
    const state = {
      osvVersion: 'v1',
      matcher: MATCHER_VERSION,
      policyVersion: 'p1',
      fullAt: '2025-01-01T00:00:00Z',
      fingerprint: new Map([['npm\u0000x', 'h1']]),
    };
    await index.stageFingerprint('run-1', state);
    assert.equal(await index.fingerprint(), undefined, 'staged is not committed');
    assert.equal(await index.commitFingerprint('run-1'), true);
    assert.equal(await index.commitFingerprint('run-1'), false, 'a retry commits nothing more');
    assert.deepEqual(await index.fingerprint(), state);
    await index.stageFingerprint('run-2', { ...state, osvVersion: 'v2', fingerprint: new Map() });
    await index.commitFingerprint('run-2');
    assert.deepEqual((await index.fingerprint())?.fingerprint, new Map(), 'empty data replaces the old fingerprint');
  });

  it("stages a delta's fingerprint as its changes over the committed one, and commits it whole", async () => {
    const index = new FleetIndex(redis, 'test:fleet6:');
    const v1 = {
      osvVersion: 'v1',
      matcher: MATCHER_VERSION,
      policyVersion: 'p',
      fullAt: 'f1',
      fingerprint: new Map([
        ['a', '1'],
        ['b', '1'],
        ['c', '1'],
      ]),
    };
    await index.stageFingerprint('full', v1);
    await index.commitFingerprint('full');
    // b changed, c gone, d new: only those are staged.
    const v2 = {
      ...v1,
      osvVersion: 'v2',
      fingerprint: new Map([
        ['a', '1'],
        ['b', '2'],
        ['d', '1'],
      ]),
    };
    await index.stageFingerprint('delta', v2, { osvVersion: 'v1', changed: ['b', 'd', 'c'] });
    assert.deepEqual(await redis.hgetall('test:fleet6:pending:delta'), { b: '2', d: '1' });
    assert.deepEqual(await redis.smembers('test:fleet6:pending:delta:gone'), ['c']);
    assert.equal(await index.commitFingerprint('delta'), true);
    assert.deepEqual(await index.fingerprint(), v2);
    assert.deepEqual(await redis.keys('test:fleet6:pending:*'), [], 'nothing staged is left');
    // Not read back when the caller knows the committed version's fingerprint.
    const known = new Map([['x', 'y']]);
    assert.equal((await index.fingerprint((v) => (v === 'v2' ? known : undefined)))?.fingerprint, known);
    assert.deepEqual((await index.fingerprint(() => undefined))?.fingerprint, v2.fingerprint);

    // Staged over v2, but another rescan commits v3 first: no whole fingerprint can be made, so none stays and the next rescan is full.
    await index.stageFingerprint('late', { ...v2, osvVersion: 'v4', fingerprint: new Map([['a', '9']]) }, { osvVersion: 'v2', changed: ['a', 'b', 'd'] });
    await index.stageFingerprint('other', { ...v2, osvVersion: 'v3', fullAt: 'f3' });
    await index.commitFingerprint('other');
    assert.equal(await index.commitFingerprint('late'), true);
    assert.equal(await index.fingerprint(), undefined);
    assert.equal(rescanMode(await index.fingerprint(), { policyVersion: 'p', fingerprint: new Map() }).mode, 'full');
    assert.deepEqual(await redis.keys('test:fleet6:pending:*'), []);
  });

  it("makes a fingerprint from the last data's for the keys whose records are the same objects, equal to one made afresh", () => {
    const base = [record('GHSA-1', 'npm', 'lodash', '4.17.21'), record('GHSA-2', 'npm', 'minimist', '1.2.6'), record('PYSEC-1', 'PyPI', 'Requests', '2.31.0')];
    const v1 = new OsvDatabase(base);
    const first = osvFingerprint(v1);
    assert.equal(osvFingerprint(v1), first, 'made once per database');
    const next = [record('GHSA-1', 'npm', 'lodash', '4.17.22', '2025-02-01T00:00:00Z'), base[2]!, record('GHSA-3', 'npm', 'express', '4.19.2')];
    const derived = osvFingerprint(new OsvDatabase(next), v1);
    assert.deepEqual(derived, osvFingerprint(new OsvDatabase(next.map((r) => structuredClone(r)))));
    assert.notEqual(derived.get('npm\u0000lodash'), first.get('npm\u0000lodash'));
    assert.equal(derived.get('PyPI\u0000requests'), first.get('PyPI\u0000requests'));
    assert.equal(derived.has('npm\u0000minimist'), false);
  });

  it('pages a stored plan, and tracks untold changes and signed summaries', async () => {
    const index = new FleetIndex(redis, 'test:fleet3:');
    await index.storePlan('run', [digest(3), digest(1), digest(2)]);
    const first = await index.planPage('run', { limit: 2 });
    assert.deepEqual(first, { digests: [digest(1), digest(2)], next: digest(2) });
    assert.deepEqual(await index.planPage('run', { after: first.next!, limit: 2 }), { digests: [digest(3)] });
    await index.setUnnotified([digest(1), digest(2)], []);
    await index.setUnnotified([], [digest(1)]);
    await index.setAttested([digest(5)], '');
    await index.setAttested([digest(6)], '2025-01-01T00:00:00Z');
    await index.dropAttested([digest(6)]);
    const state = await index.state();
    assert.deepEqual(state.unnotified, [digest(2)]);
    assert.deepEqual([...state.attested], [[digest(5), '']]);
    assert.deepEqual([...(await index.attestedOf([digest(5), digest(6)]))], [[digest(5), '']]);
  });

  it('reads many SBOMs in one round trip: stored, missing and unreadable apart', async () => {
    const store = new RedisSbomStore(redis, 'test:sbom:');
    const sbom = toCycloneDx({ registryHost: 'r.example', repository: 'app', digest: digest(1), toolVersion: 'test' }, [npm('lodash', '4.17.21')]);
    await store.put({ registry: 'r', repository: 'app', digest: digest(1), scannedAt: '2025-01-01T00:00:00Z', hygiene: {} as never, sbom });
    await redis.set(`test:sbom:${digest(3)}`, '{not json');
    const broken = {
      registry: 'r',
      repository: 'app',
      digest: digest(4),
      scannedAt: '2025-01-01T00:00:00Z',
      hygiene: {},
      sbom: { ...sbom, components: [{ type: 'library' }] },
    };
    await redis.set(`test:sbom:${digest(4)}`, JSON.stringify(broken));
    await redis.set(`test:sbom:${digest(5)}`, JSON.stringify({ ...broken, sbom: { ...sbom, bomFormat: 'SPDX' } }));
    const read = await store.getMany([digest(1), digest(2), digest(3), digest(4), digest(5)]);
    const got = new Map([...read].map(([d, entry]) => [d, entry()]));
    assert.equal((got.get(digest(1)) as { digest: string }).digest, digest(1));
    assert.equal(got.get(digest(2)), undefined);
    assert.match((got.get(digest(3)) as Error).message, /is not JSON/);
    assert.ok(got.get(digest(4)) instanceof ChainError);
    assert.match((got.get(digest(4)) as Error).message, /is malformed: sbom\.components\.0\.name: /);
    assert.match((got.get(digest(5)) as Error).message, /is malformed: sbom\.bomFormat/);
  });

  it('digests from the match’s kept keys exactly what findingsDigest gives for the summary, past the summary’s finding limit too', () => {
    // More advisories than a summary keeps (MAX_SUMMARY_FINDINGS): the gate decides on the kept ones, and so does the digest.
    const many = Array.from({ length: MAX_SUMMARY_FINDINGS + 20 }, (_, i) => record(`GHSA-${String(i).padStart(4, '0')}`, 'npm', 'lodash', '9.0.0'));
    const db = new OsvDatabase([...many, record('GHSA-m', 'npm', 'minimist', '1.2.6')]);
    const packages = [npm('lodash', '4.17.11', 'sha256:x'), npm('minimist', '1.2.0', 'sha256:x')];
    const rematched = rematchImage(db, 7, packages);
    assert.equal(rematched.summary.findings.length, MAX_SUMMARY_FINDINGS);
    for (const vex of [undefined, []]) assert.equal(rematched.digest(vex), findingsDigest(rematched.summary.findings, vex));
  });

  it('summarises an image past the summary’s finding limit as summarize() over every finding: the kept ones, counts, fixable, negligible, omitted', () => {
    // Debian records on one source by urgency (negligible: unimportant), half of them fixed; npm ones without a rating (UNKNOWN).
    const debian = (id: string, urgency: string | undefined, fixed: boolean): OsvRecord =>
      ({
        id,
        modified: '2025-01-01T00:00:00Z',
        affected: [
          {
            package: { ecosystem: 'Debian:12', name: 'openssl' },
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, ...(fixed ? [{ fixed: '9.0-1' }] : [])] }],
            ...(urgency ? { ecosystem_specific: { urgency } } : {}),
          },
        ],
      }) as OsvRecord;
    const make = (counts: Record<'high' | 'medium' | 'unimportant' | 'npm', number>) =>
      new OsvDatabase([
        ...(['high', 'medium', 'unimportant'] as const).flatMap((u) =>
          Array.from({ length: counts[u] }, (_, i) => debian(`DEBIAN-CVE-${u}-${String(i).padStart(4, '0')}`, u, i % 2 === 0)),
        ),
        ...Array.from({ length: counts.npm }, (_, i) => record(`GHSA-${String(i).padStart(4, '0')}`, 'npm', 'lodash', '9.0.0')),
      ]);
    // Two binaries of the source (each gets every record), and one npm release in two layers (the same purl twice: ties
    // on id and purl keep the packages' order). Where the first MAX_SUMMARY_FINDINGS end: within HIGH, within MEDIUM,
    // exactly at the end of HIGH, within UNKNOWN, within the negligible ones, past them all.
    const packages = [
      deb('libssl3', 'openssl', '1.0-1', 'sha256:x'),
      deb('openssl', 'openssl', '1.0-1', 'sha256:y'),
      npm('lodash', '4.17.11', 'sha256:z'),
      npm('lodash', '4.17.11', 'sha256:w'),
    ];
    const cases = [
      { high: 300, medium: 40, unimportant: 30, npm: 20 },
      { high: 100, medium: 200, unimportant: 30, npm: 20 },
      { high: 250, medium: 40, unimportant: 30, npm: 20 },
      { high: 10, medium: 20, unimportant: 30, npm: 250 },
      { high: 10, medium: 20, unimportant: 300, npm: 100 },
      { high: 10, medium: 20, unimportant: 30, npm: 20 },
    ];
    const lastRanks: string[] = [];
    for (const [n, counts] of cases.entries()) {
      const db = make(counts);
      const all = matchPackages(db, packages);
      const { summary, digest: digested } = rematchImage(db, 20 + n, packages);
      const expected = summarize(summary, packages, all, summary.osv, summary.sbom, new Date(summary.scannedAt));
      assert.deepEqual(summary, expected, `case ${n}`);
      assert.equal(JSON.stringify(summary.counts), JSON.stringify(expected.counts), 'the counts in the same key order');
      assert.equal(summary.findingsOmitted, all.length > MAX_SUMMARY_FINDINGS ? all.length - MAX_SUMMARY_FINDINGS : undefined);
      assert.ok(summary.fixable.HIGH > 0 && summary.fixable.HIGH < summary.counts.HIGH, 'fixable and unfixable findings');
      const last = summary.findings.at(-1)!;
      lastRanks.push(`${last.negligible ? 'negligible ' : ''}${last.severity}`);
      const lodash = summary.findings.filter((f) => f.package.name === 'lodash');
      if (lodash.length)
        assert.deepEqual([...new Set(lodash.map((f) => f.package.layer))].sort(), ['sha256:w', 'sha256:z'], 'each copy stamped with its layer');
      assert.equal(digested([]), findingsDigest(summary.findings, []));
    }
    assert.deepEqual(lastRanks, ['HIGH', 'MEDIUM', 'HIGH', 'UNKNOWN', 'negligible LOW', 'negligible LOW'], 'the cases end where they say');
  });

  it('bounds the match cache by the heap limit: a fleet of 650,000 packages kept under a 4 GB heap, fewer entries under a smaller one', () => {
    assert.equal(cacheBound(4_345_298_944), 1_000_000);
    assert.ok(cacheBound(2_000_000_000) < 650_000 && cacheBound(2_000_000_000) > 400_000, String(cacheBound(2_000_000_000)));
    assert.equal(cacheBound(100_000_000), 50_000, 'never below a floor');
    assert.equal(cacheBound(64_000_000_000), 1_000_000, 'never above the bound');
  });

  it('keeps the package that filled the cache to its bound: the cache starts over with it, and hands its findings out next time', () => {
    // A process of its own with a small heap: the bound (50,000 entries, its floor) is read when the module loads.
    const { stdout, stderr, status } = spawnSync(
      process.execPath,
      ['--max-old-space-size=128', '--import', 'tsx', join(__dirname, '..', '..', 'support', 'match-cache-bound.ts')],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(status, 0, stderr);
    assert.deepEqual(JSON.parse(stdout), { bound: 50_000, findings: 1, kept: true });
  });

  it('digests what a re-gate decides on: the findings without their layer, and the VEX read', async () => {
    const db = new OsvDatabase((await importDirectory(FIXTURES)).records);
    const a = matchPackages(db, [npm('minimist', '1.2.0', 'sha256:a')]);
    const b = matchPackages(db, [npm('minimist', '1.2.0', 'sha256:b')]);
    assert.ok(a.length > 0);
    assert.equal(findingsDigest(a, []), findingsDigest(b, []), 'another layer, the same decision inputs');
    assert.notEqual(findingsDigest(a, []), findingsDigest(a.slice(1), []));
    assert.notEqual(findingsDigest(a, []), findingsDigest(a, undefined), 'VEX unread is not VEX empty');
    const index = new FleetIndex(redis, 'test:fleet4:');
    await index.setGatedOn(new Map([[digest(1), findingsDigest(a, [])]]));
    assert.deepEqual(await index.gatedOn([digest(1), digest(2)]), [findingsDigest(a, []), null]);
    await index.add(digest(1), { keys: ['npm\u0000minimist'], versions: [] }, 'v1');
    assert.deepEqual(await index.gatedOn([digest(1)]), [null], 'scanned again: the next rescan re-gates it');
  });

  it('keeps an image whose SBOM cannot be read as unchecked data with the reason, never as clean', () => {
    const db = new OsvDatabase([record('GHSA-1', 'npm', 'lodash', '4.17.21')]);
    const kept = uncheckedRescan(db, digest(1), 'v1', 'no stored SBOM for it', new Date(), undefined);
    assert.deepEqual(kept.findings, []);
    assert.equal(kept.vulnerabilityData?.problems[0]?.kind, 'missing');
    assert.match(kept.vulnerabilityData?.problems[0]?.message ?? '', /packages are unknown: no stored SBOM/);
  });
});
