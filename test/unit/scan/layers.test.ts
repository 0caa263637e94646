import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { ChainError } from '../../../src/errors/chain-error';
import { FileTree } from '../../../src/scan/fs/tree';
import { normalizeEntryPath } from '../../../src/scan/fs/path';
import { type CapturePolicy } from '../../../src/scan/layers/capture';
import { DEFAULT_LAYER_LIMITS, type LayerLimits } from '../../../src/scan/layers/limits';
import { readLayer } from '../../../src/scan/layers/read-layer';
import { zeroFileLayer } from '../../support/hostile-images';

type Entry = { name: string; content?: string | Buffer; type?: 'file' | 'symlink' | 'directory' | 'link'; linkname?: string; mode?: number };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    if (type === 'file') p.entry({ name: e.name, mode: e.mode ?? 0o644 }, e.content ?? '');
    else p.entry({ name: e.name, type, mode: e.mode ?? 0o755, ...(e.linkname ? { linkname: e.linkname } : {}) });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

const keepAll: CapturePolicy = { keep: () => true, inspectors: [] };

async function read(blob: Buffer, limits: Partial<LayerLimits> = {}, policy = keepAll, index = 0) {
  return readLayer(Readable.from([blob]), {
    index,
    digest: `sha256:layer${index}`,
    limits: { ...DEFAULT_LAYER_LIMITS, ...limits },
    policy,
    entryBudget: { remaining: limits.maxEntries ?? 1000 },
    imageBytes: { total: 0 },
  });
}

void describe('layer reading', () => {
  void it('reads plain, gzip and zstd layers to the same entries', async () => {
    const tar = await tarOf([
      { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
      { name: 'bin/sh', type: 'symlink', linkname: 'dash' },
    ]);
    const zstd = execFileSync('zstd', ['-q', '-c'], { input: tar });
    for (const [blob, compression] of [
      [tar, 'none'],
      [gzipSync(tar), 'gzip'],
      [zstd, 'zstd'],
    ] as const) {
      const { changes, stats } = await read(blob);
      assert.equal(stats.compression, compression);
      assert.equal(stats.uncompressedBytes, tar.length);
      assert.deepEqual(
        changes.entries.map((e) => [e.path, e.type, e.content?.toString() ?? e.linkname]),
        [
          ['/etc/os-release', 'file', 'ID=debian\nVERSION_ID="12"\n'],
          ['/bin/sh', 'symlink', 'dash'],
        ],
      );
    }
  });

  void it('refuses entries that escape the root and never applies them', async () => {
    const tar = await tarOf([
      { name: '../../etc/passwd', content: 'x' },
      { name: 'ok/../../escape', content: 'x' },
      { name: './fine', content: 'y' },
      { name: 'hl', type: 'link', linkname: '../../etc/shadow' },
    ]);
    const { changes, refused } = await read(tar);
    assert.deepEqual(
      changes.entries.map((e) => e.path),
      ['/fine', '/hl'],
    );
    assert.equal(changes.entries[1]!.linkname, undefined);
    assert.deepEqual(
      refused.map((r) => r.reason),
      ['path escapes the image root', 'path escapes the image root', 'hard link target escapes the image root'],
    );
    assert.equal(normalizeEntryPath('a//b/./c/'), '/a/b/c');
  });

  void it('enforces the decompression ratio, size and entry limits with TOO_LARGE', async () => {
    const bomb = gzipSync(await tarOf([{ name: 'zeros', content: Buffer.alloc(8 * 1024 * 1024) }]));
    await assert.rejects(
      read(bomb, { maxUncompressedBytes: 4 * 1024 * 1024 }),
      (e: unknown) => ChainError.is(e, 'TOO_LARGE') && /layer sha256:layer0 exceeds 4194304 bytes uncompressed/.test(e.message),
    );
    // The ratio is judged past 1 GiB of output (sparse files compress a thousandfold too): 1.2 GiB from 1.2 MiB.
    await assert.rejects(
      read(zeroFileLayer('zeros', 1200 * 1024 * 1024), {}, { keep: () => false, inspectors: [] }),
      (e: unknown) => ChainError.is(e, 'TOO_LARGE') && /decompression bomb/.test(e.message),
    );
    await assert.rejects(
      read(bomb, { maxUncompressedBytes: 16 * 1024 ** 2, maxImageUncompressedBytes: 6 * 1024 ** 2 }),
      (e: unknown) => ChainError.is(e, 'TOO_LARGE') && /image layers exceed 6291456 bytes/.test(e.message),
    );
    await assert.rejects(read(bomb, { maxLayerBytes: 100 }), (e: unknown) => ChainError.is(e, 'TOO_LARGE') && /larger than 100 bytes/.test(e.message));
    const many = await tarOf(Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, content: 'x' })));
    await assert.rejects(read(many, { maxEntries: 3 }), (e: unknown) => ChainError.is(e, 'TOO_LARGE') && /tar entries/.test(e.message));
  });

  void it('answers a corrupt layer with BAD_INPUT', async () => {
    const gz = gzipSync(await tarOf([{ name: 'a', content: 'hello' }]));
    await assert.rejects(read(gz.subarray(0, gz.length - 12)), (e: unknown) => ChainError.is(e, 'BAD_INPUT'));
    await assert.rejects(read(Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(600, 7)])), (e: unknown) => ChainError.is(e, 'BAD_INPUT'));
  });
});

void describe('final filesystem view', () => {
  void it('applies whiteouts and opaque dirs only to lower layers, whatever the tar order', async () => {
    const tree = new FileTree();
    tree.apply(
      (
        await read(
          await tarOf([
            { name: 'd/a', content: 'A' },
            { name: 'd/sub/b', content: 'BB' },
            { name: 'x', content: 'XXX' },
          ]),
          {},
          keepAll,
          0,
        )
      ).changes,
    );
    // Upper layer: its own new file comes before the opaque marker in the tar and must survive it.
    tree.apply((await read(await tarOf([{ name: 'd/new', content: 'N' }, { name: 'd/.wh..wh..opq' }, { name: '.wh.x' }]), {}, keepAll, 1)).changes);
    assert.deepEqual(
      [...tree.files()]
        .filter((n) => n.type === 'file')
        .map((n) => n.path)
        .sort(),
      ['/d/new'],
    );
    assert.equal(tree.wastedBytes, 1 + 2 + 3);
    assert.equal(tree.get('/d/new')?.layer, 'sha256:layer1');
  });

  void it('resolves symlinks inside the image only, and survives loops', async () => {
    const tree = new FileTree();
    const tar = await tarOf([
      { name: 'usr/lib/os-release', content: 'ID=alpine' },
      { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
      { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
      { name: 'evil', type: 'symlink', linkname: '../../../../usr/lib/os-release' },
      { name: 'loop1', type: 'symlink', linkname: 'loop2' },
      { name: 'loop2', type: 'symlink', linkname: '/loop1' },
      { name: 'self', type: 'symlink', linkname: 'self/x' },
    ]);
    tree.apply((await read(tar)).changes);
    assert.equal(tree.read('/etc/os-release')?.toString(), 'ID=alpine');
    assert.equal(tree.read('/lib/os-release')?.toString(), 'ID=alpine');
    assert.equal(tree.read('/evil')?.toString(), 'ID=alpine', 'a link climbing above / stays at the image root');
    assert.equal(tree.resolve('/loop1'), undefined);
    assert.equal(tree.resolve('/self/x'), undefined);
  });
});
