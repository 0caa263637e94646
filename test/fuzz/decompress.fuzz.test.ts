/** gzip and zstd decoding: truncated and corrupt streams, concatenated members, decompression bombs. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ChainError } from '../../src/errors/chain-error';
import { layerDecoder } from '../../src/scan/layers/decompress';
import { DEFAULT_LAYER_LIMITS } from '../../src/scan/layers/limits';
import { fuzzTarget, mutated } from './harness';
import { tarSeeds } from './seeds';

const limits = { ...DEFAULT_LAYER_LIMITS, maxLayerBytes: 4 * 1024 ** 2, maxUncompressedBytes: 4 * 1024 ** 2 };
const zstd = (b: Buffer) => execFileSync('zstd', ['-q', '-c', '--no-check'], { input: b });

async function decode(blob: Buffer): Promise<number> {
  const source = Readable.from([blob]);
  const { transforms, stats } = await layerDecoder(source, limits, 'sha256:fuzz');
  await pipeline([source, ...transforms, new Writable({ write: (_c, _e, done) => done() })]);
  return stats.uncompressedBytes;
}

const tars = tarSeeds();
const zeros = Buffer.alloc(16 * 1024 ** 2);
const seeds = [
  ...tars.map((t) => gzipSync(t)),
  Buffer.concat([gzipSync(tars[0]!), gzipSync(tars[1]!)]), // concatenated members
  ...tars.slice(0, 3).map(zstd),
  Buffer.concat([zstd(tars[0]!), zstd(tars[2]!)]), // concatenated frames
  gzipSync(zeros, { level: 9 }), // bomb: 16 MiB from ~16 KiB
  zstd(zeros),
];

void describe('fuzz: gzip and zstd decoding', () => {
  void it('a bomb stops at the configured limit with TOO_LARGE', async () => {
    for (const bomb of seeds.slice(-2)) {
      await assert.rejects(
        decode(bomb),
        (err: unknown) => ChainError.is(err, 'TOO_LARGE') && /layer sha256:fuzz exceeds 4194304 bytes uncompressed|decompresses more than/.test(err.message),
      );
    }
  });
  fuzzTarget('decompress', mutated(seeds), decode, {
    runs: 150,
    check: (bytes) => assert.ok(bytes <= limits.maxUncompressedBytes),
    regressions: [
      // A second gzip header inside the first member: zlib's "invalid stored block lengths" was an untyped Error.
      Buffer.from([
        31, 139, 8, 0, 31, 139, 8, 0, 0, 0, 0, 0, 0, 3, 203, 75, 77, 79, 44, 201, 44, 75, 101, 160, 33, 48, 48, 48, 48, 48, 51, 49, 1, 211, 6, 6, 6, 112, 250,
        63, 2, 176, 26, 32, 0, 131, 129, 161, 137, 129, 177, 17, 131, 130, 1, 45, 29, 5, 3, 165, 197, 37, 137, 69, 12, 6, 116, 177, 107, 20, 140, 130, 81, 48,
        10, 6, 17, 0, 0, 215, 159, 151, 60, 0, 6, 0, 0,
      ]),
    ],
  });
});
