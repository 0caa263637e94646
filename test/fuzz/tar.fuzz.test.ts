/** Tar reader: mutated ustar/GNU/PAX streams, huge and negative sizes, truncated entries, hostile paths. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe } from 'node:test';
import { type CapturePolicy } from '../../src/scan/layers/capture';
import { DEFAULT_LAYER_LIMITS } from '../../src/scan/layers/limits';
import { readLayer } from '../../src/scan/layers/read-layer';
import { fuzzTarget, mutated } from './harness';
import { tarSeeds } from './seeds';

const keepAll: CapturePolicy = { keep: () => true, inspectors: [] };
const limits = { ...DEFAULT_LAYER_LIMITS, maxUncompressedBytes: 8 * 1024 ** 2, maxPackageDbBytes: 1024 ** 2, maxEntries: 10_000 };

void describe('fuzz: tar reader', () => {
  fuzzTarget(
    'tar',
    mutated(tarSeeds()),
    (tar) => readLayer(Readable.from([tar]), { index: 0, digest: 'sha256:fuzz', limits, policy: keepAll, entryBudget: { remaining: limits.maxEntries } }),
    {
      runs: 200,
      check: (result) => {
        for (const e of result.changes.entries) {
          assert.ok(e.path.startsWith('/') && !e.path.split('/').includes('..'), `entry path ${e.path} escapes the root`);
          if (e.type === 'hardlink' && e.linkname !== undefined) assert.ok(!e.linkname.split('/').includes('..'), `hard link ${e.linkname}`);
        }
        for (const w of result.changes.whiteouts) assert.ok(w.startsWith('/') && !w.split('/').includes('..'), `whiteout ${w}`);
      },
    },
  );
});
