/** Berkeley DB hash pages (rpm `Packages` of RHEL ≤ 8): metadata, hash pages, overflow chains; written by db_load. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'node:test';
import { BdbError, readBdbHash } from '../../src/scan/catalog/rpmdb/bdb';
import { findTool } from '../../workers/local/tools';
import { writeBdbPackages } from '../support/rpm';
import { catalogFiles, OS_RELEASE, wellFormed } from './catalog-support';
import { fuzzTarget, mutated } from './harness';
import { rpmHeaderBlob, rpmHeaderSeeds } from './seeds';

/** Real databases from Berkeley DB's own db_load: inline items, and headers big enough for overflow chains. */
function bdbSeeds(): Buffer[] {
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-bdb-'));
  try {
    const big = rpmHeaderBlob([
      { tag: 1000, type: 6, value: 'big' },
      { tag: 1001, type: 6, value: '1' },
      { tag: 1002, type: 6, value: '1' },
      { tag: 1027, type: 8, value: Array.from({ length: 400 }, (_, i) => `/usr/share/doc/big/file-${i}`) },
    ]);
    const sets = [rpmHeaderSeeds(), [...rpmHeaderSeeds(), big], [Buffer.from('tiny')]];
    return sets.map((blobs, i) => {
      const file = join(dir, `db${i}`, 'Packages');
      writeBdbPackages(file, blobs, dir);
      return readFileSync(file);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void describe('fuzz: Berkeley DB rpmdb', { skip: findTool('db5.3_load') ? false : 'needs db5.3_load (Debian package db5.3-util)' }, () => {
  const seeds = findTool('db5.3_load') ? bdbSeeds() : [];
  fuzzTarget(
    'bdb',
    mutated(seeds, 8),
    async (db) => {
      wellFormed(await catalogFiles({ '/etc/os-release': OS_RELEASE.rocky, '/var/lib/rpm/Packages': db }));
      return readBdbHash(db);
    },
    { runs: 200, typed: [BdbError] },
  );
});
