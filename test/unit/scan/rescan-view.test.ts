/**
 * The rescan view stored beside each SBOM: the packages exactly as packagesFromCycloneDx reads them
 * from the stored SBOM, written with it, read back for SBOMs stored without one, and refused (never
 * read as no packages) when it is not in its shape.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { generateFleet, type Sizes } from '../../../bench/rescan-fleet';
import { ChainError } from '../../../src/errors';
import { MemorySbomStore, RedisSbomStore, type RescanView, toCycloneDx } from '../../../src/scan';
import { packagesFromCycloneDx, type StoredScan } from '../../../src/scan/sbom/cyclonedx';
import { decodeRescanView, encodeRescanView, RESCAN_VIEW_FORMAT, rescanViewOf } from '../../../src/scan/sbom/rescan-view';
import { type HygieneResult, type Package } from '../../../src/scan/types';
import { onCleanup, testDataDir, useRedis } from '../../support/services';

const SIZES: Sizes = {
  images: 3,
  debianSources: 300,
  npmPackages: 600,
  pypiPackages: 300,
  debianRecords: 0,
  npmRecords: 0,
  npmMalicious: 0,
  pypiRecords: 0,
  pypiMalicious: 0,
};

const HYGIENE = { setuidFiles: ['usr/bin/su'], shells: ['bin/sh'], networkTools: [], user: '', runsAsRoot: true, issues: [] } as unknown as HygieneResult;

/** Packages the generated fleet has none of: licenses, no layer or location, a release without a source. */
const extra: Package[] = [
  { name: 'left-pad', version: '1.3.0', ecosystem: 'npm', purl: 'pkg:npm/left-pad@1.3.0', layer: '', location: '', licenses: ['MIT', 'WTFPL'] },
  {
    name: 'requests',
    version: '2.31.0',
    ecosystem: 'PyPI',
    purl: 'pkg:pypi/requests@2.31.0',
    layer: 'sha256:l9',
    location: 'site-packages/requests',
    release: 'x',
  },
];

/** Realistic images (Debian with npm or PyPI) as the scan stage stores them. */
const storedImages = (): StoredScan[] =>
  generateFleet(SIZES, 11).map((image, n) => ({
    registry: 'source',
    repository: image.repository,
    digest: image.digest,
    scannedAt: '2025-01-01T00:00:00.000Z',
    ...(n === 0 ? {} : { os: { ...image.os, prettyName: 'Debian GNU/Linux 12 (bookworm)' } }),
    hygiene: HYGIENE,
    sbom: toCycloneDx({ registryHost: 'registry.example', repository: image.repository, digest: image.digest, os: image.os, toolVersion: 'test' }, [
      ...image.packages,
      ...(n === 0 ? extra : []),
    ]),
  }));

const expectView = (view: RescanView | undefined | ChainError, stored: StoredScan, sbomPackages: Package[]) => {
  assert.ok(view && !(view instanceof ChainError), String(view));
  // Exactly packagesFromCycloneDx's output: the same fields, in the same order, optional ones absent.
  assert.deepStrictEqual(view.packages, sbomPackages);
  assert.equal(JSON.stringify(view.packages), JSON.stringify(sbomPackages));
  assert.deepStrictEqual(
    [view.registry, view.repository, view.digest, view.scannedAt, view.os, view.hygiene],
    [stored.registry, stored.repository, stored.digest, stored.scannedAt, stored.os, stored.hygiene],
  );
  assert.equal('os' in view, stored.os !== undefined);
};

describe('rescan views: the packages of a stored SBOM, cheap to read', () => {
  let redis: Redis;
  const images = storedImages();

  before(async () => {
    const server = await useRedis(testDataDir());
    redis = new Redis(server.url);
    onCleanup(() => redis.disconnect());
  });

  after(async () => {
    await redis.flushall();
  });

  it('round-trips the packages exactly as packagesFromCycloneDx reads them from the stored SBOM', () => {
    for (const stored of images) {
      // As a rescan reads the SBOM: from its stored JSON.
      const sbom = (JSON.parse(JSON.stringify(stored)) as StoredScan).sbom;
      const packages = packagesFromCycloneDx(sbom);
      assert.ok(packages.length >= 200, `a realistic image: ${packages.length} packages`);
      assert.ok(packages.some((p) => p.sourceName !== undefined && p.release !== undefined));
      const text = encodeRescanView(rescanViewOf(stored));
      expectView(decodeRescanView(text, 'k', stored.digest), stored, packages);
    }
    assert.ok(packagesFromCycloneDx(images[0]!.sbom).some((p) => p.licenses?.length === 2 && p.layer === ''));
  });

  it('refuses a view that is not in its shape, naming the key and the problem', () => {
    const stored = images[0]!;
    const good = JSON.parse(encodeRescanView(rescanViewOf(stored))) as Record<string, unknown> & { packages: unknown[][] };
    const withPackage = (i: number, value: unknown) => ({ ...good, packages: [good.packages[0]!.map((v, j) => (j === i ? value : v))] });
    const cases: Array<[unknown, RegExp]> = [
      [[], /expected an object/],
      [{ ...good, format: 'dchain-rescan-view/0' }, /format: expected "dchain-rescan-view\/1"/],
      [{ ...good, format: undefined }, /format: expected .* got none/],
      [{ ...good, packages: undefined }, /packages: expected an array/],
      [{ ...good, packages: {} }, /packages: expected an array/],
      [{ ...good, digest: 7 }, /digest: expected a string/],
      [{ ...good, digest: `sha256:${'f'.repeat(64)}` }, /digest: the view is of sha256:f+/],
      [{ ...good, hygiene: null }, /hygiene: expected an object/],
      [{ ...good, os: { id: 'debian' } }, /os\.versionId: expected a string/],
      [{ ...good, strings: [1] }, /strings\[0\]: expected a string/],
      [{ ...good, packages: [['a', '1']] }, /packages\[0\]: expected a tuple of 10/],
      [withPackage(1, ''), /packages\[0\]\.version: expected a non-empty string/],
      [withPackage(3, null), /packages\[0\]\.purl: expected a non-empty string/],
      [withPackage(4, 1e9), /packages\[0\]\.layer: expected an index into strings/],
      [withPackage(5, '0'), /packages\[0\]\.location: expected an index into strings/],
      [withPackage(6, ''), /packages\[0\]\.sourceName: expected a non-empty string/],
      [withPackage(9, []), /packages\[0\]\.licenses: expected null or a non-empty array/],
      [withPackage(9, ['MIT', 3]), /packages\[0\]\.licenses\[1\]: expected a non-empty string/],
    ];
    for (const [json, message] of cases) {
      assert.throws(
        () => decodeRescanView(JSON.stringify(json), 'the-key', stored.digest),
        (err: unknown) => ChainError.is(err, 'INTERNAL') && /^rescan view the-key is malformed: /.test(err.message) && message.test(err.message),
        String(message),
      );
    }
    assert.throws(() => decodeRescanView('{not json', 'the-key'), /rescan view the-key is not JSON/);
    assert.equal(RESCAN_VIEW_FORMAT, good.format);
  });

  it('stores the view with the SBOM, and reads many views in one go: stored, missing and unreadable apart', async () => {
    const store = new RedisSbomStore(redis, 'test:views:');
    for (const stored of images) await store.put(stored);
    const viewKeys = await redis.keys('test:views:rescan-view/1:*');
    assert.equal(viewKeys.length, images.length, 'a view beside each SBOM');
    const [a, b, c] = images as [StoredScan, StoredScan, StoredScan];
    await redis.set(`test:views:rescan-view/1:${c.digest}`, JSON.stringify({ format: RESCAN_VIEW_FORMAT }));
    const missing = `sha256:${'e'.repeat(64)}`;
    const read = await store.getViews([a.digest, missing, b.digest, c.digest]);
    assert.deepEqual([...read.keys()], [a.digest, missing, b.digest, c.digest]);
    for (const stored of [a, b]) expectView(read.get(stored.digest)!(), stored, packagesFromCycloneDx((await store.get(stored.digest))!.sbom));
    assert.equal(read.get(missing)!(), undefined);
    const bad = read.get(c.digest)!();
    assert.ok(ChainError.is(bad, 'INTERNAL'), String(bad));
    assert.match(bad.message, /^rescan view test:views:rescan-view\/1:sha256:[0-9a-f]{64} is malformed: /);
    // A view that cannot be read is not replaced by the SBOM: it stays refused.
    assert.ok((await store.getViews([c.digest])).get(c.digest)!() instanceof ChainError);
    // The existing readers are as they were.
    assert.equal((await store.getMany([c.digest])).get(c.digest)!() instanceof ChainError, false);
    // A view whose SBOM is gone is not read: the image is unknown, as its SBOM is.
    await redis.del(`test:views:${b.digest}`);
    assert.equal((await store.getViews([b.digest])).get(b.digest)!(), undefined);
  });

  it('reads the SBOM of an image stored without a view, and stores its view for the next read', async () => {
    const store = new RedisSbomStore(redis, 'test:old:');
    const [a, b] = images as [StoredScan, StoredScan];
    // As before views: the SBOM alone.
    await redis.set(`test:old:${a.digest}`, JSON.stringify(a));
    await store.put(b);
    await redis.set(`test:old:${`sha256:${'d'.repeat(64)}`}`, '{not json');
    const broken = `sha256:${'d'.repeat(64)}`;
    const first = await store.getViews([a.digest, b.digest, broken]);
    expectView(first.get(a.digest)!(), a, packagesFromCycloneDx((await store.get(a.digest))!.sbom));
    expectView(first.get(b.digest)!(), b, packagesFromCycloneDx((await store.get(b.digest))!.sbom));
    assert.match((first.get(broken)!() as Error).message, /stored SBOM test:old:sha256:d+ is not JSON/);
    const written = await redis.get(`test:old:rescan-view/1:${a.digest}`);
    assert.ok(written, 'the view is stored beside the SBOM');
    assert.equal(await redis.exists(`test:old:rescan-view/1:${broken}`), 0, 'no view of an SBOM that cannot be read');
    // The next read takes the view (an SBOM that cannot be parsed shows it is not read again), and reads the same.
    await redis.set(`test:old:${a.digest}`, '{not json');
    expectView((await store.getViews([a.digest])).get(a.digest)!(), a, packagesFromCycloneDx((JSON.parse(JSON.stringify(a)) as StoredScan).sbom));
    // A view a new scan stored meanwhile (after the views were read, before the backfill) is kept.
    await redis.set(`test:old:${b.digest}`, JSON.stringify(b));
    await redis.del(`test:old:rescan-view/1:${b.digest}`);
    const newer = encodeRescanView({ ...rescanViewOf(b), scannedAt: '2026-01-01T00:00:00.000Z' });
    const racing = redis.duplicate();
    onCleanup(() => racing.disconnect());
    const mget = racing.mget.bind(racing);
    let reads = 0;
    // The views are read in a pipeline, the SBOMs by MGET: the new scan's view lands just before that.
    racing.mget = (async (...keys: string[]) => {
      if (++reads === 1) await redis.set(`test:old:rescan-view/1:${b.digest}`, newer);
      return mget(...keys);
    }) as typeof racing.mget;
    await new RedisSbomStore(racing, 'test:old:').getViews([b.digest]);
    assert.equal(reads, 1);
    assert.equal(await redis.get(`test:old:rescan-view/1:${b.digest}`), newer);
  });

  it('keeps the memory store on a par: a view on put, the SBOM read for one stored without', async () => {
    const store = new MemorySbomStore();
    const [a, b] = images as [StoredScan, StoredScan];
    await store.put(a);
    await store.put(b);
    store.forgetView(b.digest);
    const missing = `sha256:${'c'.repeat(64)}`;
    const read = await store.getViews([a.digest, b.digest, missing]);
    expectView(read.get(a.digest)!(), a, packagesFromCycloneDx((await store.get(a.digest))!.sbom));
    expectView(read.get(b.digest)!(), b, packagesFromCycloneDx((await store.get(b.digest))!.sbom));
    assert.equal(read.get(missing)!(), undefined);
    expectView((await store.getViews([b.digest])).get(b.digest)!(), b, packagesFromCycloneDx((await store.get(b.digest))!.sbom));
    await assert.rejects(store.getViews(['latest']), /not a sha256 image digest/);
  });
});
