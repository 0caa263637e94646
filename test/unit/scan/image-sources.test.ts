import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { parseImageInput } from '../../../src/scan/image/local-sources';
import { TarIndex } from '../../../src/scan/image/tar-index';

async function tarOf(entries: { name: string; content?: string; type?: 'file' | 'symlink' | 'directory'; linkname?: string }[]): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => tar.on('end', () => resolve()));
  for (const e of entries) {
    if ((e.type ?? 'file') === 'file') tar.entry({ name: e.name }, e.content ?? '');
    else tar.entry({ name: e.name, type: e.type!, ...(e.linkname ? { linkname: e.linkname } : {}) });
  }
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}

void describe('image transports', () => {
  void it('parses the containers-transports syntax', () => {
    assert.deepEqual(parseImageInput('docker-archive:/x/img.tar'), { transport: 'docker-archive', path: '/x/img.tar' });
    assert.deepEqual(parseImageInput('docker-archive:img.tar:app/web:v1'), { transport: 'docker-archive', path: 'img.tar', reference: 'app/web:v1' });
    assert.deepEqual(parseImageInput('docker-archive:img.tar:@1'), { transport: 'docker-archive', path: 'img.tar', reference: '@1' });
    assert.deepEqual(parseImageInput('oci-archive:img.tar:v2'), { transport: 'oci-archive', path: 'img.tar', reference: 'v2' });
    assert.deepEqual(parseImageInput('oci:layout'), { transport: 'oci', path: 'layout' });
    assert.deepEqual(parseImageInput('oci:layout:latest'), { transport: 'oci', path: 'layout', reference: 'latest' });
    assert.deepEqual(parseImageInput('127.0.0.1:5000/app:v1'), { transport: 'registry', reference: '127.0.0.1:5000/app:v1' });
    assert.deepEqual(parseImageInput('docker://ghcr.io/a/b:c'), { transport: 'registry', reference: 'ghcr.io/a/b:c' });
    assert.deepEqual(parseImageInput('registry:ghcr.io/a/b@sha256:' + 'a'.repeat(64)), {
      transport: 'registry',
      reference: 'ghcr.io/a/b@sha256:' + 'a'.repeat(64),
    });
    assert.throws(() => parseImageInput('oci:'), /oci: needs a path/);
    assert.throws(() => parseImageInput('oci:dir:'), /ends with ":"/);
  });
});

void describe('TarIndex', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tar-index-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('reads members in place, long (PAX) names and links included', async () => {
    const long = `blobs/sha256/${'d'.repeat(64)}/${'n'.repeat(90)}`;
    const file = join(dir, 'a.tar');
    writeFileSync(
      file,
      await tarOf([
        { name: './manifest.json', content: '[1]' },
        { name: long, content: 'long name' },
        { name: 'abc/layer.tar', content: 'layer bytes' },
        { name: 'def/layer.tar', type: 'symlink', linkname: '../abc/layer.tar' },
        { name: 'empty', content: '' },
      ]),
    );
    const index = TarIndex.open(file);
    assert.equal(index.read('manifest.json', 100).toString(), '[1]');
    assert.equal(index.read(long, 100).toString(), 'long name');
    assert.equal(index.read('def/layer.tar', 100).toString(), 'layer bytes');
    const chunks: Buffer[] = [];
    for await (const c of index.stream('abc/layer.tar')) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'layer bytes');
    const empty: Buffer[] = [];
    for await (const c of index.stream('empty')) empty.push(c as Buffer);
    assert.equal(Buffer.concat(empty).length, 0);
    assert.equal(index.has('nope'), false);
    assert.throws(() => index.read('manifest.json', 2), /more than the limit of 2/);
  });

  void it('refuses compressed, truncated and non-tar files with what they are', async () => {
    const tar = await tarOf([{ name: 'x', content: 'y'.repeat(2000) }]);
    const gz = join(dir, 'b.tar.gz');
    writeFileSync(gz, gzipSync(tar));
    assert.throws(() => TarIndex.open(gz), /is a compressed file/);
    const cut = join(dir, 'c.tar');
    writeFileSync(cut, tar.subarray(0, 1024));
    assert.throws(() => TarIndex.open(cut), /is truncated/);
    const text = join(dir, 'd.tar');
    writeFileSync(text, 'not a tar file at all'.repeat(40));
    assert.throws(() => TarIndex.open(text), /not a tar archive/);
  });
});
