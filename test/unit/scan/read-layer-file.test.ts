import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { ChainError } from '../../../src/errors/chain-error';
import { type CapturePolicy } from '../../../src/scan/layers/capture';
import { DEFAULT_LAYER_LIMITS } from '../../../src/scan/layers/limits';
import { readLayerFile } from '../../../src/scan/layers/read-layer-file';

const dir = mkdtempSync(join(tmpdir(), 'layer-file-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Bytes that differ at every offset, so a view of a refilled buffer shows other bytes than the file's. */
function pattern(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0, block = 0; i < size; i += 32, block++) createHash('sha256').update(`${seed}:${block}`).digest().copy(out, i);
  return out;
}

const files: Record<string, Buffer> = {
  // A package database spanning many chunks, small kept files inside one, a long (pax) name, an inspected binary.
  'var/lib/dpkg/status': pattern('status', 20_000),
  'etc/os-release': Buffer.from('ID=debian\nVERSION_ID="12"\n'),
  [`usr/lib/${'deep/'.repeat(60)}package.json`]: Buffer.from('{"name":"deep","version":"1.0.0"}'),
  'usr/bin/tool': Buffer.concat([Buffer.from('\x7fELF'), pattern('tool', 3000)]),
  'usr/share/doc/skipped': pattern('skipped', 5000),
};

async function tarOf(entries: Record<string, Buffer>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const [name, content] of Object.entries(entries)) p.entry({ name, mode: 0o755 }, content);
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/**
 * Keeps everything but the doc file; inspects ELF files by recording their whole content as hex, in place (a view of
 * the read buffer) when the file lies in one chunk, from a copy otherwise.
 */
const policy: CapturePolicy = {
  keep: (path) => !path.startsWith('/usr/bin/') && !path.startsWith('/usr/share/'),
  inspectors: [
    {
      name: 'copy',
      candidate: (path) => path.startsWith('/usr/bin/'),
      accepts: (head) => head.subarray(0, 4).toString('latin1') === '\x7fELF',
      inspect: (_path, content) => content.toString('hex'),
      inPlace: true,
    },
  ],
};

/** The blob written after some unrelated bytes, as a layer member sits inside an image archive. */
function placed(name: string, blob: Buffer): { file: string; offset: number; size: number; what: string } {
  const file = join(dir, name);
  const before = pattern('before', 777);
  writeFileSync(file, Buffer.concat([before, blob, pattern('after', 300)]));
  return { file, offset: before.length, size: blob.length, what: name };
}

function read(blob: Buffer, name: string, chunkBytes: number, digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`) {
  return readLayerFile(placed(name, blob), {
    index: 0,
    digest,
    limits: DEFAULT_LAYER_LIMITS,
    policy,
    entryBudget: { remaining: 1000 },
    chunkBytes,
  });
}

void describe('layer read from a file with reused buffers', () => {
  void it('keeps every kept and inspected file intact whatever the chunk boundaries, plain, gzip and zstd', async () => {
    const tar = await tarOf(files);
    const blobs = { none: tar, gzip: gzipSync(tar), zstd: execFileSync('zstd', ['-q', '-c'], { input: tar }) };
    for (const [compression, blob] of Object.entries(blobs)) {
      // Chunk sizes that split headers, pax records, inspector heads and contents at every kind of offset.
      for (const chunkBytes of [97, 700, 1000, 4096, 1024 * 1024]) {
        const { changes, stats } = await read(blob, `layer-${compression}`, chunkBytes);
        assert.equal(stats.compression, compression);
        assert.equal(stats.compressedBytes, blob.length);
        assert.equal(stats.uncompressedBytes, tar.length);
        const byPath = new Map(changes.entries.map((e) => [e.path, e]));
        assert.deepEqual(
          [...byPath.keys()].sort(),
          Object.keys(files)
            .map((f) => `/${f}`)
            .sort(),
        );
        for (const [name, content] of Object.entries(files)) {
          const node = byPath.get(`/${name}`)!;
          const what = `${name} (${compression}, ${chunkBytes}-byte chunks)`;
          if (name.startsWith('usr/bin/')) assert.equal(node.facts?.copy, content.toString('hex'), what);
          else if (name.startsWith('usr/share/')) assert.equal(node.content, undefined, what);
          else assert.ok(node.content?.equals(content), what);
        }
      }
    }
  });

  void it('refuses a layer whose bytes do not hash to its digest', async () => {
    const tar = await tarOf({ 'etc/os-release': Buffer.from('ID=debian\n') });
    await assert.rejects(read(tar, 'mismatch', 1000, `sha256:${'0'.repeat(64)}`), (err) => ChainError.is(err) && err.code === 'DIGEST_MISMATCH');
  });

  void it('refuses a truncated layer as a tar error, compressed or not', async () => {
    const tar = await tarOf(files);
    for (const blob of [tar.subarray(0, 10_000), gzipSync(tar.subarray(0, 10_000))]) {
      await assert.rejects(read(blob, 'truncated', 1000), (err) => ChainError.is(err) && err.code === 'BAD_INPUT' && /truncated/.test(err.message));
    }
  });

  void it('reads an empty layer as no entries', async () => {
    const { changes, stats } = await read(Buffer.alloc(0), 'empty', 1000);
    assert.deepEqual(changes.entries, []);
    assert.equal(stats.compressedBytes, 0);
  });
});
