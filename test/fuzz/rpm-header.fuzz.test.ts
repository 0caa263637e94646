/** RPM header blobs (bounds, region trailer, tag types, counts), alone and through the cataloger via a sqlite rpmdb. */
import { describe } from 'node:test';
import { readRpmPackage, RpmHeaderError } from '../../src/scan/catalog/rpmdb/header';
import { fuzzTarget, mutated } from './harness';
import { rpmHeaderSeeds } from './seeds';

void describe('fuzz: rpm header', () => {
  fuzzTarget('rpm-header', mutated(rpmHeaderSeeds(), 8), (blob) => readRpmPackage(blob), { runs: 1000, typed: [RpmHeaderError] });
});
