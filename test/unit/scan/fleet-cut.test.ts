/**
 * The delta rescan's skip rule (mustRematch): an image holding a changed version is left alone only
 * when no change can reach the findings its decision keeps. The cases the rule's argument turns on,
 * each shown to change the kept findings when the rule re-matches; a randomized comparison with a
 * re-match from scratch; and the cuts as the fleet index keeps them.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { FleetIndex, imageIndex, mustRematch, touchedVersions, versionChangeRank, versionDigests } from '../../../src/scan';
import { OsvDatabase, type OsvRecord } from '../../../src/scan/osv';
import { matchFleetImage, stampLayers } from '../../../src/scan/fleet/match-cache';
import { packageTuple } from '../../../src/scan/sbom/rescan-view';
import { findingKey } from '../../../src/scan/fleet/finding-key';
import { findingRank } from '../../../src/scan/finding-rank';
import { matchPackage, matchPackages } from '../../../src/scan/osv/findings';
import { type Finding, type Package } from '../../../src/scan/types';
import { onCleanup, testDataDir, useRedis } from '../../support/services';

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

interface Adv {
  id: string;
  source: string;
  /** Debian urgency: unimportant is a negligible LOW; none leaves the severity UNKNOWN (no CVSS). */
  urgency?: 'unimportant' | 'low' | 'medium' | 'high';
  aliases?: string[];
  fixed?: string;
  /** The ecosystem of its entry: the release's (the default) or bare Debian, a second query of every Debian package. */
  ecosystems?: Array<'Debian:12' | 'Debian'>;
  /** Per ecosystem, when one record rates a package differently in each. */
  urgencies?: Partial<Record<'Debian:12' | 'Debian', Adv['urgency']>>;
}

const advisory = (a: Adv): OsvRecord =>
  ({
    id: a.id,
    modified: '2025-01-01T00:00:00Z',
    ...(a.aliases ? { aliases: a.aliases } : {}),
    affected: (a.ecosystems ?? ['Debian:12']).map((ecosystem) => {
      const urgency = a.urgencies?.[ecosystem] ?? a.urgency;
      return {
        package: { ecosystem, name: a.source },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, ...(a.fixed ? [{ fixed: a.fixed }] : [])] }],
        ...(urgency ? { ecosystem_specific: { urgency } } : {}),
      };
    }),
  }) as OsvRecord;

/** An npm advisory rated by its database (GitHub's severity). */
const record = (id: string, ecosystem: string, name: string, fixed: string, severity: string): OsvRecord =>
  ({
    id,
    modified: '2025-01-01T00:00:00Z',
    database_specific: { severity },
    affected: [{ package: { ecosystem, name }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed }] }] }],
  }) as OsvRecord;

const deb = (source: string, version = '1.0-1', name = source): Package => ({
  name,
  version,
  ecosystem: 'Debian',
  purl: `pkg:deb/debian/${name}@${version}?distro=debian-12`,
  layer: 'sha256:l0',
  location: 'var/lib/dpkg/status',
  sourceName: source,
  sourceVersion: version,
  release: 'Debian:12',
});

/** The databases a test compares are built apart in time, as a refresh builds them. */
let clock = Date.UTC(2025, 0, 1);
const database = (advs: Adv[]) => new OsvDatabase(advs.map(advisory), new Date((clock += 1000)));

/** A delta from `before` to `after` for an image of `packages`: what the plan decides, and what a re-match gives. */
function delta(before: OsvDatabase, after: OsvDatabase, packages: Package[], max: number) {
  const was = matchFleetImage(before, packages, max);
  const { versions } = imageIndex(packages);
  const [b, a] = [versionDigests(before, versions), versionDigests(after, versions)];
  const changed = versions.filter((v) => b.get(v) !== a.get(v));
  const rematch = mustRematch(was.cut, changed, (e) => versionChangeRank(before, after, e));
  const now = matchFleetImage(after, packages, max);
  return { was, now, changed, rematch, same: JSON.stringify(was.keys) === JSON.stringify(now.keys) };
}

/**
 * The rank versionChangeRank stands for, from every finding of the package of a release's entry in
 * both sets (a bare Debian entry: -1, its release unknown).
 */
function fullChangeRank(before: OsvDatabase, after: OsvDatabase, entry: string): number {
  const [key, ecosystem, version] = entry.split('\u0001') as [string, string, string];
  if (!ecosystem.includes(':')) return -1;
  const name = key.slice(key.indexOf('\u0000') + 1);
  const pkg: Package = { name, version, ecosystem: 'Debian', release: ecosystem, purl: `pkg:generic/${name}@${version}`, layer: '', location: '' };
  const [was, now] = [matchPackage(before, pkg), matchPackage(after, pkg)];
  const [wasKeys, nowKeys] = [new Set(was.map(findingKey)), new Set(now.map(findingKey))];
  const differ = [...was.filter((f) => !nowKeys.has(findingKey(f))), ...now.filter((f) => !wasKeys.has(findingKey(f)))];
  return Math.min(Number.POSITIVE_INFINITY, ...differ.map(findingRank));
}

/** Three HIGH findings on `kept`, cut at max 3 (rank HIGH), and whatever `others` add below it. */
const HIGHS: Adv[] = [
  { id: 'CVE-2025-0001', source: 'kept', urgency: 'high' },
  { id: 'CVE-2025-0002', source: 'kept', urgency: 'high' },
  { id: 'CVE-2025-0003', source: 'kept', urgency: 'high' },
  { id: 'CVE-2025-0009', source: 'kept', urgency: 'low' },
];

describe('delta rescan: an image is left alone only when no change reaches the findings its decision keeps', () => {
  it('cuts an image past `max` at the rank of its last kept finding; a change ranks by the findings its version’s package has differently', () => {
    const db = database([...HIGHS, { id: 'CVE-2025-0100', source: 'other', urgency: 'medium' }]);
    assert.equal(matchFleetImage(db, [deb('kept'), deb('other'), deb('clean')], 3).cut, 1, 'HIGH');
    // Nothing left out: no cut, every change re-matches.
    assert.equal(matchFleetImage(db, [deb('kept'), deb('other')], 10).cut, undefined);
    assert.equal(
      mustRematch(undefined, ['Debian\u0000x\u0001Debian\u00011'], () => Infinity),
      true,
      'unknown cut: re-match',
    );
    const after = database([...HIGHS.filter((a) => a.id !== 'CVE-2025-0009'), { id: 'CVE-2025-0100', source: 'other', urgency: 'medium', fixed: '2.0-1' }]);
    const entry = (ecosystem: string, name: string, version = '1.0-1') => `${ecosystem}\u0000${name}\u0001${ecosystem}\u0001${version}`;
    assert.equal(versionChangeRank(db, after, entry('Debian:12', 'kept')), 3, 'the LOW finding gone');
    assert.equal(versionChangeRank(db, after, entry('Debian:12', 'other')), 2, 'the MEDIUM finding fixed now');
    assert.equal(versionChangeRank(db, after, entry('Debian:12', 'clean')), Infinity);
    const npmBefore = new OsvDatabase([record('GHSA-1', 'npm', 'left-pad', '1.1.0', 'HIGH')], new Date((clock += 1000)));
    const npmAfter = new OsvDatabase([record('GHSA-1', 'npm', 'left-pad', '1.2.0', 'HIGH')], new Date((clock += 1000)));
    assert.equal(versionChangeRank(npmBefore, npmAfter, entry('npm', 'left-pad', '1.0.0')), 1, 'a language package: its one entry');
    // No package can be made of these (release or source package unknown): any change counts.
    assert.equal(versionChangeRank(db, after, entry('Debian', 'kept')), -1);
    assert.equal(versionChangeRank(db, after, entry('Red Hat:enterprise_linux:9', 'openssl-libs', '3.0.7-1.el9')), -1);
    assert.equal(versionChangeRank(db, after, entry('SUSE:Linux Enterprise Micro 5.5', 'openssl-3', '3.0.8-1')), -1);
  });

  it('leaves an image alone when its changes rank below the cut, on a package with kept findings too', () => {
    const before = database([...HIGHS, { id: 'CVE-2025-0008', source: 'kept', urgency: 'low', fixed: '2.0-1' }]);
    const after = database([...HIGHS, { id: 'CVE-2025-0008', source: 'kept', urgency: 'medium', fixed: '3.0-1' }]);
    const d = delta(before, after, [deb('kept'), deb('other')], 3);
    assert.equal(d.changed.length, 1);
    assert.deepEqual([d.rematch, d.same], [false, true]);
    assert.equal(d.now.cut, d.was.cut, 'the cut stays valid for the next delta');
  });

  it('leaves an image alone when a change stays below its cut, on a package without a hit at or above it', () => {
    const before = database([...HIGHS, { id: 'CVE-2025-0100', source: 'other', urgency: 'low', fixed: '2.0-1' }]);
    const after = database([...HIGHS, { id: 'CVE-2025-0100', source: 'other', urgency: 'medium', fixed: '3.0-1' }, { id: 'CVE-2025-0101', source: 'other' }]);
    const d = delta(before, after, [deb('kept'), deb('other')], 3);
    assert.equal(d.changed.length, 1, 'the release query of `other` changed');
    assert.deepEqual([d.rematch, d.same], [false, true]);
    assert.equal(d.now.cut, d.was.cut, 'the cut stays valid for the next delta');
  });

  it('re-matches when a kept finding’s record is withdrawn: a finding at the cut’s rank goes, though the change brings none', () => {
    const base: Adv[] = [
      ...HIGHS.filter((a) => a.id !== 'CVE-2025-0002'),
      { id: 'CVE-2025-0008', source: 'k2', urgency: 'low' },
      { id: 'CVE-2025-0100', source: 'other', urgency: 'high' },
    ];
    const before = database([...base, { id: 'CVE-2025-0002', source: 'k2', urgency: 'high' }]);
    const after = database(base);
    const d = delta(before, after, [deb('kept'), deb('k2'), deb('other')], 3);
    assert.deepEqual(
      d.changed.map((e) => versionChangeRank(before, after, e)),
      [1],
      'the HIGH finding of `k2` is gone',
    );
    assert.deepEqual([d.rematch, d.same], [true, false]);
  });

  it('re-matches when a change joins a HIGH record to a LOW group through an alias: the group is HIGH now', () => {
    const low = { id: 'DEBIAN-CVE-2025-0000', source: 'other', urgency: 'low' as const, aliases: ['CVE-2025-0000'] };
    const before = database([...HIGHS, low]);
    // A record of its own at HIGH, named by the LOW one's alias: one group, at its best member's rank.
    const after = database([...HIGHS, low, { id: 'CVE-2025-0000', source: 'other', urgency: 'high' }]);
    const d = delta(before, after, [deb('kept'), deb('other')], 3);
    assert.deepEqual([d.rematch, d.same], [true, false]);
    assert.ok(
      d.now.cached.some((f) => f.ids.includes('DEBIAN-CVE-2025-0000') && f.severity === 'HIGH'),
      'the joined group is kept, at HIGH',
    );
  });

  it('re-matches when a negligible group loses its status: a counted record joins it', () => {
    const base: Adv[] = [
      { id: 'CVE-2025-0001', source: 'kept', urgency: 'low' },
      { id: 'CVE-2025-0008', source: 'kept', urgency: 'low' },
      { id: 'CVE-2025-0009', source: 'kept', urgency: 'unimportant' },
    ];
    const negligible = { id: 'DEBIAN-CVE-2025-0002', source: 'other', urgency: 'unimportant' as const, aliases: ['CVE-2025-0002'] };
    const before = database([...base, negligible]);
    const joined = (urgency: Adv['urgency']) => database([...base, negligible, { id: 'CVE-2025-0002', source: 'other', urgency }]);
    // Cut at LOW (rank 3): `other`'s negligible group ranks below it, so `other` holds no hit at or above the cut.
    assert.equal(matchFleetImage(before, [deb('kept'), deb('other')], 2).cut, 3);
    const counted = delta(before, joined('low'), [deb('kept'), deb('other')], 2);
    assert.deepEqual([counted.rematch, counted.same], [true, false], 'a LOW member: the group counts at LOW, before CVE-2025-0008');
    // Another negligible member: the group stays negligible, past the cut.
    const still = delta(before, joined('unimportant'), [deb('kept'), deb('other')], 2);
    assert.deepEqual([still.rematch, still.same], [false, true]);
  });

  it('re-matches on a tie at the cut’s rank: a finding at that rank may sort before the last kept one', () => {
    const base: Adv[] = [
      { id: 'CVE-2025-0001', source: 'kept', urgency: 'high' },
      { id: 'CVE-2025-0002', source: 'kept', urgency: 'high' },
      { id: 'CVE-2025-0020', source: 'kept', urgency: 'medium' },
      { id: 'CVE-2025-0030', source: 'kept', urgency: 'medium' },
    ];
    const before = database(base);
    const after = database([...base, { id: 'CVE-2025-0010', source: 'other', urgency: 'medium' }]);
    const d = delta(before, after, [deb('kept'), deb('other')], 3);
    assert.equal(d.was.cut, 2, 'cut at MEDIUM');
    assert.deepEqual([d.rematch, d.same], [true, false], 'CVE-2025-0010 at MEDIUM sorts before CVE-2025-0020');
    // A package holding a finding at the cut's rank, past the cut: any change of its own re-matches.
    const tied = database([...base, { id: 'CVE-2025-0040', source: 'other', urgency: 'medium' }]);
    const renamed = database([...base, { id: 'CVE-2025-0011', source: 'other', urgency: 'medium' }]);
    const moved = delta(tied, renamed, [deb('kept'), deb('other')], 3);
    assert.deepEqual([moved.rematch, moved.same], [true, false], 'a finding at the cut renamed into the kept ones');
  });

  it('re-matches when a record found under two queries changes under the one that hid it: the other query’s rating comes forward', () => {
    // One record over both of a package's queries, rated HIGH in the bare ecosystem and LOW in the release's,
    // whose LOW hit is taken first (the release is queried first) and hides the HIGH one.
    const both: Adv = { id: 'CVE-2025-0000', source: 'other', ecosystems: ['Debian:12', 'Debian'], urgencies: { 'Debian:12': 'low', Debian: 'high' } };
    const before = database([...HIGHS, both]);
    const after = database([...HIGHS, { ...both, ecosystems: ['Debian'] }]);
    const d = delta(before, after, [deb('kept'), deb('other')], 3);
    assert.ok(!matchFleetImage(before, [deb('other')], 10).cached.some((f) => f.severity === 'HIGH'), 'the LOW hit is what matching keeps');
    assert.deepEqual([d.rematch, d.same], [true, false]);
  });

  it('re-matches a change under the bare ecosystem of a release: its record groups with the release’s', () => {
    // A kept HIGH group of the release's record and, through its alias, the bare ecosystem's LOW one: the
    // group's fix is the highest of its members', so a new fix of the LOW record changes the HIGH finding.
    const scoped: Adv = { id: 'DEBIAN-CVE-2025-0000', source: 'kept', urgency: 'high', aliases: ['CVE-2025-0000'], fixed: '2.0-1' };
    const bare = (fixed: string): Adv => ({ id: 'CVE-2025-0000', source: 'kept', urgency: 'low', fixed, ecosystems: ['Debian'] });
    const d = delta(database([...HIGHS, scoped, bare('2.0-1')]), database([...HIGHS, scoped, bare('3.0-1')]), [deb('kept')], 4);
    assert.deepEqual(
      d.changed.map((e) => e.split('\u0001')[1]),
      ['Debian'],
      'only the bare entry changed',
    );
    assert.deepEqual([d.rematch, d.same], [true, false]);
  });

  it('agrees with a re-match from scratch on random data: every image it leaves alone keeps its findings and its cut', () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const sources = Array.from({ length: 10 }, (_, i) => `s${i}`);
    const versions = ['1.0-1', '2.0-1', '3.0-1'];
    const urgencies = ['unimportant', 'low', 'medium', 'high', undefined] as const;
    const names = Array.from({ length: 12 }, (_, i) => `CVE-2025-${String(i).padStart(4, '0')}`);
    const randomAdvisory = (n: number): Adv => ({
      id: rand() < 0.5 ? pick(names) : `DEBIAN-X-${n}`,
      source: pick(sources),
      urgency: pick(urgencies),
      ...(rand() < 0.4 ? { aliases: [pick(names)] } : {}),
      ...(rand() < 0.6 ? { fixed: pick(versions) } : {}),
      ecosystems: rand() < 0.2 ? ['Debian:12', 'Debian'] : [rand() < 0.8 ? 'Debian:12' : 'Debian'],
      ...(rand() < 0.5 ? { urgencies: { Debian: pick(urgencies) } } : {}),
    });
    const unique = (advs: Adv[]) => [...new Map(advs.map((a) => [a.id, a])).values()];
    let skipped = 0;
    let rematchedChanging = 0;
    for (let trial = 0; trial < 400; trial++) {
      const advs = unique(Array.from({ length: 15 + Math.floor(rand() * 25) }, (_, n) => randomAdvisory(n)));
      // A few advisories withdrawn, rewritten (another package, rating, alias or fix) or added.
      const next = unique(
        advs
          .filter(() => rand() > 0.05)
          .map((a, n) => (rand() < 0.08 ? { ...randomAdvisory(100 + n), id: a.id } : a))
          .concat(Array.from({ length: Math.floor(rand() * 3) }, (_, n) => randomAdvisory(200 + n))),
      );
      const packages = sources.filter(() => rand() < 0.7).flatMap((s) => [deb(s, pick(versions)), ...(rand() < 0.3 ? [deb(s, '1.0-1', `${s}-bin`)] : [])]);
      const max = 1 + Math.floor(rand() * 4);
      const d = delta(database(advs), database(next), packages, max);
      if (d.changed.length === 0) assert.ok(d.same, `trial ${trial}: nothing changed, nothing differs`);
      if (!d.rematch) {
        skipped++;
        assert.ok(d.same, `trial ${trial}: left alone, yet a re-match keeps other findings`);
        assert.equal(d.now.cut, d.was.cut, `trial ${trial}: the cut no longer holds`);
      } else if (!d.same) rematchedChanging++;
    }
    // Both sides exercised: images left alone, and images whose re-match changes what is kept.
    assert.ok(skipped >= 20 && rematchedChanging >= 20, `skipped ${skipped}, re-matched with a change ${rematchedChanging}`);
  });
});

describe('delta rescan: only the versions a changed record affects are digested again', () => {
  it('touches every version whose hits differ, carries the others’ hits over and ranks each change, on random data whose unchanged records stay the same objects (as a refresh keeps them)', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const versions = ['1.0-1', '2.0-1', '3.0-1', '4.0-1'];
    const randomAdvisory = (n: number): Adv => ({
      id: `CVE-2025-${String(n).padStart(4, '0')}`,
      source: pick(['s0', 's1', 's2']),
      urgency: pick(['unimportant', 'low', 'medium', 'high', undefined] as const),
      ...(rand() < 0.4 ? { aliases: [`CVE-2025-${String(Math.floor(rand() * 30)).padStart(4, '0')}`] } : {}),
      ...(rand() < 0.7 ? { fixed: pick(versions) } : {}),
      ecosystems: rand() < 0.2 ? ['Debian:12', 'Debian'] : [rand() < 0.8 ? 'Debian:12' : 'Debian'],
    });
    // One record object per advisory object: an advisory kept as it was is the same record in both sets.
    const records = new WeakMap<Adv, OsvRecord>();
    const recordOf = (a: Adv) => records.get(a) ?? records.set(a, advisory(a)).get(a)!;
    const entries = imageIndex(['s0', 's1', 's2'].flatMap((s) => versions.map((v) => deb(s, v)))).versions;
    let untouched = 0;
    let differing = 0;
    for (let trial = 0; trial < 300; trial++) {
      const advs = Array.from({ length: 5 + Math.floor(rand() * 15) }, (_, n) => randomAdvisory(n));
      const next = advs
        .filter(() => rand() > 0.1)
        .map((a) => (rand() < 0.15 ? { ...randomAdvisory(0), id: a.id } : a))
        .concat(rand() < 0.5 ? [randomAdvisory(100 + trial)] : []);
      const before = new OsvDatabase(advs.map(recordOf), new Date((clock += 1000)));
      const after = new OsvDatabase(next.map(recordOf), new Date((clock += 1000)));
      const touched = touchedVersions(before, after, entries);
      // Digested with the hits `before` remembers carried over, as a data set of the same records digested from scratch.
      const [b, a] = [versionDigests(before, entries), versionDigests(after, entries, before)];
      assert.deepEqual(a, versionDigests(new OsvDatabase(next.map(recordOf), new Date((clock += 1000))), entries), `trial ${trial}: carried hits differ`);
      for (const e of entries) {
        if (b.get(e) !== a.get(e)) {
          differing++;
          assert.ok(touched.has(e), `trial ${trial}: ${e.replaceAll('\u0001', ' ')} hits differently, yet is not touched`);
        } else if (!touched.has(e)) untouched++;
      }
      // The rank of a change, from the groups of the records that differ alone, as from every finding of both sets.
      for (const e of entries)
        assert.equal(versionChangeRank(before, after, e), fullChangeRank(before, after, e), `trial ${trial}: ${e.replaceAll('\u0001', ' ')}`);
      // Every record another object: every version a record of either set affects is touched.
      const copies = touchedVersions(before, new OsvDatabase(next.map(advisory), new Date((clock += 1000))), entries);
      for (const e of entries) if (b.get(e) !== '' || a.get(e) !== '') assert.ok(copies.has(e), `trial ${trial}: a copied record counts as changed`);
    }
    // Both sides exercised: versions whose hits differ, and versions left undigested.
    assert.ok(differing >= 100 && untouched >= 100, `differing ${differing}, untouched ${untouched}`);
  });
});

describe('a version’s hit digest', () => {
  it('stays the digest earlier versions stored: a delta after an upgrade compares with them', () => {
    const db = new OsvDatabase(
      [
        {
          ...advisory({ id: 'DEBIAN-CVE-2025-0001', source: 's0', urgency: 'high', fixed: '2.0-1', aliases: ['CVE-2025-0001'] }),
          summary: 'a "quoted" summary',
        },
        { ...advisory({ id: 'DEBIAN-CVE-2025-0002', source: 's0', urgency: 'unimportant' }), upstream: ['CVE-2025-0002'] },
      ] as OsvRecord[],
      new Date((clock += 1000)),
    );
    const [entry] = imageIndex([deb('s0')]).versions;
    // As the release before hits were carried over computed it (the SHA-1 of the JSON of each hit's id, names, aliases, summary, severity and fix).
    assert.equal(versionDigests(db, [entry!]).get(entry!), 'Xd9x84T_IKiTj1lS7eiY_5RU-tI');
  });
});

describe('the fleet match cache after a refresh', () => {
  it('drops only the entries under changed records, of a purl that names two packages (binary and source aside)', () => {
    // One purl, two packages: the same binary as built from two sources, each matched under its own.
    const fromA = deb('a', '1.0-1', 'bin');
    const fromB = deb('b', '1.0-1', 'bin');
    assert.equal(fromA.purl, fromB.purl);
    // The record of source b is kept as the same object, as a refresh keeps an unchanged record; a's is replaced.
    const kept = advisory({ id: 'CVE-2025-0100', source: 'b', urgency: 'high' });
    const before = new OsvDatabase([advisory({ id: 'CVE-2025-0001', source: 'a', urgency: 'high' }), kept], new Date((clock += 1000)));
    const after = new OsvDatabase([advisory({ id: 'CVE-2025-0002', source: 'a', urgency: 'high' }), kept], new Date((clock += 1000)));
    const ids = (db: OsvDatabase, pkg: Package) => matchFleetImage(db, [pkg], 10).cached.map((f) => f.id);
    assert.deepEqual([ids(before, fromA), ids(before, fromB)], [['CVE-2025-0001'], ['CVE-2025-0100']]);
    assert.deepEqual([ids(after, fromA), ids(after, fromB)], [['CVE-2025-0002'], ['CVE-2025-0100']], 'the entry under the changed record is matched again');
  });

  it('keeps the entries under a changed key that no differing record affects, and patches those one does', () => {
    // Source c's key changes (CVE-2025-0201 rated again), but only 1.0-1 is affected by it, before and after: 3.0-1 keeps its findings.
    const kept = advisory({ id: 'CVE-2025-0200', source: 'c', urgency: 'high' });
    const before = new OsvDatabase([kept, advisory({ id: 'CVE-2025-0201', source: 'c', urgency: 'low', fixed: '2.0-1' })], new Date((clock += 1000)));
    const after = new OsvDatabase([kept, advisory({ id: 'CVE-2025-0201', source: 'c', urgency: 'high', fixed: '2.0-1' })], new Date((clock += 1000)));
    const [old, current] = [deb('c', '1.0-1'), deb('c', '3.0-1')];
    const was = matchFleetImage(before, [old, current], 10).cached;
    const now = matchFleetImage(after, [old, current], 10).cached;
    assert.deepEqual(now, matchPackages(after, [old, current]));
    const of = (fs: readonly Finding[], version: string, id: string) => fs.find((f) => f.package.version === version && f.id === id)!;
    assert.equal(of(now, '3.0-1', 'CVE-2025-0200'), of(was, '3.0-1', 'CVE-2025-0200'), 'carried over: the very same finding');
    assert.equal(of(now, '1.0-1', 'CVE-2025-0200'), of(was, '1.0-1', 'CVE-2025-0200'), 'patched: the finding no differing record reaches is the very same');
    assert.notEqual(of(now, '1.0-1', 'CVE-2025-0201'), of(was, '1.0-1', 'CVE-2025-0201'), 'patched: the reached finding is made again');
    assert.equal(of(now, '1.0-1', 'CVE-2025-0201').severity, 'HIGH');
  });

  /** An image of one package of source `s`, matched before and after: the findings of each, and the image's from scratch after. */
  const refreshed = (before: Adv[], after: Adv[], shared: Adv[]) => {
    const kept = shared.map(advisory);
    const [b, a] = [before, after].map((advs) => new OsvDatabase([...kept, ...advs.map(advisory)], new Date((clock += 1000))));
    const pkg = deb('s');
    return { was: matchFleetImage(b!, [pkg], 100).cached, now: matchFleetImage(a!, [pkg], 100).cached, fresh: matchPackages(a!, [pkg]) };
  };
  const idsOf = (fs: readonly Finding[]) => fs.map((f) => f.ids.join('+')).sort();

  it('patches a group that a withdrawn record joined: its members stand apart now, and an unrelated finding is the same object', () => {
    // CVE-2025-0303 names both 0301 and 0302: one finding of three records. Withdrawn, the two it joined are two findings.
    const { was, now, fresh } = refreshed(
      [{ id: 'CVE-2025-0303', source: 's', urgency: 'low', aliases: ['CVE-2025-0301', 'CVE-2025-0302'] }],
      [],
      [
        { id: 'CVE-2025-0301', source: 's', urgency: 'high' },
        { id: 'CVE-2025-0302', source: 's', urgency: 'medium' },
        { id: 'CVE-2025-0309', source: 's', urgency: 'low' },
      ],
    );
    assert.deepEqual(idsOf(was), ['CVE-2025-0301+CVE-2025-0302+CVE-2025-0303', 'CVE-2025-0309']);
    assert.deepEqual(idsOf(now), ['CVE-2025-0301', 'CVE-2025-0302', 'CVE-2025-0309']);
    assert.deepEqual(now, fresh);
    const unrelated = (fs: readonly Finding[]) => fs.find((f) => f.id === 'CVE-2025-0309');
    assert.equal(unrelated(now), unrelated(was));
  });

  it('patches groups that a new record joins: one finding of them now, at the best rank among them', () => {
    const { was, now, fresh } = refreshed(
      [],
      [{ id: 'CVE-2025-0403', source: 's', urgency: 'low', aliases: ['CVE-2025-0401', 'CVE-2025-0402'] }],
      [
        { id: 'CVE-2025-0401', source: 's', urgency: 'high' },
        { id: 'CVE-2025-0402', source: 's', urgency: 'medium', ecosystems: ['Debian'] },
        { id: 'CVE-2025-0409', source: 's', urgency: 'low' },
      ],
    );
    assert.deepEqual(idsOf(was), ['CVE-2025-0401', 'CVE-2025-0402', 'CVE-2025-0409']);
    assert.deepEqual(idsOf(now), ['CVE-2025-0401+CVE-2025-0402+CVE-2025-0403', 'CVE-2025-0409']);
    assert.equal(now.find((f) => f.ids.length === 3)!.severity, 'HIGH');
    assert.deepEqual(now, fresh);
  });

  it('matches as matchPackages does across refreshes in a row, on random data whose unchanged records stay the same objects', () => {
    let seed = 11;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const sources = Array.from({ length: 8 }, (_, i) => `s${i}`);
    const versions = ['1.0-1', '2.0-1', '3.0-1'];
    const randomAdvisory = (n: number): Adv => ({
      id: `CVE-2025-${String(n).padStart(4, '0')}`,
      source: pick(sources),
      urgency: pick(['unimportant', 'low', 'medium', 'high', undefined] as const),
      ...(rand() < 0.3 ? { aliases: [`CVE-2025-${String(Math.floor(rand() * 40)).padStart(4, '0')}`] } : {}),
      ...(rand() < 0.6 ? { fixed: pick(versions) } : {}),
      ecosystems: rand() < 0.2 ? ['Debian:12', 'Debian'] : [rand() < 0.8 ? 'Debian:12' : 'Debian'],
    });
    const records = new WeakMap<Adv, OsvRecord>();
    const recordOf = (a: Adv) => records.get(a) ?? records.set(a, advisory(a)).get(a)!;
    // Binaries of a source share its lookup keys, and one purl may name packages of two sources.
    const images = Array.from({ length: 12 }, () =>
      sources
        .filter(() => rand() < 0.5)
        .flatMap((s) => [deb(s, pick(versions)), ...(rand() < 0.4 ? [deb(s, pick(versions), rand() < 0.5 ? `${s}-bin` : 'shared-bin')] : [])]),
    );
    let advs = Array.from({ length: 30 }, (_, n) => randomAdvisory(n));
    // The images as rescan views give them too: the package table's packages (no layer) by number, each
    // with its layer. The table starts over halfway, numbering the packages the other way round: numbers
    // of the old table must not find the entries they named.
    const tables = [new Map<string, number>(), new Map<string, number>()];
    const distinct = [...new Set(images.flat().map(packageTuple))];
    distinct.forEach((t, i) => (tables[0]!.set(t, i + 1), tables[1]!.set(t, distinct.length - i)));
    const rowsOf = (packages: Package[], epoch: number) => ({
      layers: packages.map((p) => p.layer),
      table: { epoch: `e${epoch}`, ids: packages.map((p) => tables[epoch]!.get(packageTuple(p))!) },
    });
    const tablePackages = (packages: Package[]) => packages.map((p) => ({ ...p, layer: '', location: '' }));
    let compared = 0;
    for (let refresh = 0; refresh < 40; refresh++) {
      const db = new OsvDatabase(advs.map(recordOf), new Date((clock += 1000)));
      for (const [n, packages] of images.entries()) {
        const expected = matchPackages(db, packages);
        const byNumber = () => {
          const m = matchFleetImage(db, tablePackages(packages), 1000, rowsOf(packages, refresh < 20 ? 0 : 1));
          return stampLayers(m.cached, m.layers);
        };
        // Either way first, so that each finds entries the other made.
        if ((refresh + n) % 2) assert.deepEqual(byNumber(), expected, `refresh ${refresh}, by number`);
        // Stamped with the image's layers, as the summary is: a cached finding holds the layer of the image first matched with its package.
        const byPurl = matchFleetImage(db, packages, 1000);
        assert.deepEqual(stampLayers(byPurl.cached, byPurl.layers), expected, `refresh ${refresh}`);
        assert.deepEqual(byNumber(), expected, `refresh ${refresh}, by number`);
        compared++;
      }
      // A day's change: a few advisories withdrawn, rewritten (kept id) or added; the rest the same objects.
      advs = advs
        .filter(() => rand() > 0.05)
        .map((a) => (rand() < 0.1 ? { ...randomAdvisory(0), id: a.id } : a))
        .concat(Array.from({ length: Math.floor(rand() * 3) }, (_, n) => randomAdvisory(100 + refresh * 3 + n)));
    }
    assert.equal(compared, 480);
  });

  it('lets the older data set go once the carry-over is done: what the plan and the patch remember of the pair holds it weakly', async () => {
    const kept = advisory({ id: 'CVE-2025-0500', source: 'r', urgency: 'high' });
    const pkg = deb('r', '1.0-1');
    let before: OsvDatabase | undefined = new OsvDatabase([kept, advisory({ id: 'CVE-2025-0501', source: 'r', urgency: 'low' })], new Date((clock += 1000)));
    const after = new OsvDatabase([kept, advisory({ id: 'CVE-2025-0501', source: 'r', urgency: 'high' })], new Date((clock += 1000)));
    const held = new WeakRef(before);
    matchFleetImage(before, [pkg], 10);
    // The plan's (the changed versions and their ranks, digests carried over) and the carry-over's patch, as a delta makes them.
    const entries = imageIndex([pkg]).versions;
    assert.equal(touchedVersions(before, after, entries).size, 1);
    assert.ok(Number.isFinite(versionChangeRank(before, after, entries[0]!)));
    versionDigests(after, entries, before);
    const now = matchFleetImage(after, [pkg], 10).cached;
    assert.deepEqual(now, matchPackages(after, [pkg]));
    before = undefined;
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // A WeakRef's target stays until the job that made or read it ends: collect from a later turn.
    for (let i = 0; i < 3 && held.deref() !== undefined; i++) {
      await new Promise((done) => setImmediate(done));
      gc();
    }
    assert.equal(held.deref(), undefined, 'the older data set is still referenced');
    const again = matchFleetImage(after, [pkg], 10).cached;
    assert.ok(again.length === 2 && again.every((f, i) => f === now[i]), 'the newer one keeps its cache: the very same findings');
  });
});

describe('the fleet index keeps each image’s cut', () => {
  let redis: Redis;
  before(async () => {
    const server = await useRedis(testDataDir());
    redis = new Redis(server.url);
    onCleanup(() => redis.disconnect());
  });

  it('stores, reads and forgets cuts; a value it cannot read, and an image the scan stage matched, count as unknown', async () => {
    const index = new FleetIndex(redis, `cut-${Date.now()}:`);
    await index.add(digest(1), { keys: ['Debian:12\u0000a'], versions: ['Debian:12\u0000a\u0001Debian:12\u00011.0-1'] }, 'v1');
    await index.add(digest(2), { keys: ['Debian:12\u0000a'], versions: ['Debian:12\u0000a\u0001Debian:12\u00012.0-1'] }, 'v1');
    await index.setCuts(
      new Map([
        [digest(1), 2],
        [digest(2), 9],
      ]),
      [],
    );
    assert.deepEqual(
      await index.cutsOf([digest(1), digest(2), digest(3)]),
      new Map([
        [digest(1), 2],
        [digest(2), 9],
      ]),
    );
    const holders = await index.holdersOf(['Debian:12\u0000a\u0001Debian:12\u00011.0-1', 'Debian:12\u0000a\u0001Debian:12\u00012.0-1', 'x\u0001y\u0001z']);
    assert.deepEqual(
      holders,
      new Map([
        [digest(1), ['Debian:12\u0000a\u0001Debian:12\u00011.0-1']],
        [digest(2), ['Debian:12\u0000a\u0001Debian:12\u00012.0-1']],
      ]),
    );
    await index.setCuts(new Map(), [digest(2)]);
    assert.deepEqual([...(await index.cutsOf([digest(1), digest(2)])).keys()], [digest(1)]);
    // Indexed again by the scan stage: its decision is the scan's now, on findings the cut does not describe.
    await index.add(digest(1), { keys: ['Debian:12\u0000a'], versions: [] }, 'v2');
    assert.equal((await index.cutsOf([digest(1)])).size, 0);
    for (const bad of ['', 'x', '-1', '10', '1.5', '2\u0001k']) {
      await redis.hset(`${(index as unknown as { prefix: string }).prefix}cut`, digest(4), bad);
      assert.equal((await index.cutsOf([digest(4)])).size, 0, JSON.stringify(bad));
    }
  });
});
