import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ChainError } from '../../../src/errors/chain-error';
import { type TarHeader, TarParser } from '../../../src/scan/layers/tar-parser';

interface Parsed extends TarHeader {
  content?: string;
}

/** Every entry of `archive`, with the content of regular files, fed in chunks of `chunk` bytes. */
function parse(archive: Buffer, chunk = archive.length): Parsed[] {
  const out: Parsed[] = [];
  const parser = new TarParser((header) => {
    const entry: Parsed = { ...header };
    out.push(entry);
    if (header.type !== 'file') return undefined;
    const parts: Buffer[] = [];
    return { write: (c) => void parts.push(Buffer.from(c)), end: () => void (entry.content = Buffer.concat(parts).toString('utf8')) };
  });
  for (let i = 0; i < archive.length; i += chunk) parser.push(archive.subarray(i, i + chunk));
  parser.end();
  return out;
}

const work = mkdtempSync(join(tmpdir(), 'tar-parser-'));
after(() => rmSync(work, { recursive: true, force: true }));

const LONG_DIR = `${'d'.repeat(120)}/${'e'.repeat(90)}`;
const LONG_FILE = `${LONG_DIR}/${'f'.repeat(140)}.txt`;

/** A tree with a long path (over ustar's 100 + 155), a long symlink target, a hard link and an empty file, archived by GNU tar. */
function gnuTar(format: 'gnu' | 'pax' | 'ustar' | 'oldgnu', files: 'short' | 'long'): Buffer {
  const root = mkdtempSync(join(work, `${format}-`));
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'etc/os-release'), 'ID=debian\n');
  writeFileSync(join(root, 'etc/empty'), '');
  writeFileSync(join(root, 'etc/big'), 'x'.repeat(5000));
  linkSync(join(root, 'etc/os-release'), join(root, 'etc/hard'));
  symlinkSync('os-release', join(root, 'etc/link'));
  const names = ['etc'];
  if (files === 'long') {
    mkdirSync(join(root, LONG_DIR), { recursive: true });
    writeFileSync(join(root, LONG_FILE), 'long name\n');
    symlinkSync(`/${LONG_FILE}`, join(root, 'long-target'));
    names.push(LONG_DIR.split('/')[0]!, 'long-target');
  }
  return execFileSync('tar', ['-c', `--format=${format}`, '--sort=name', '--owner=1000', '--group=1000', '-C', root, ...names], {
    maxBuffer: 64 * 1024 * 1024,
  });
}

function checkCommon(entries: Parsed[]): void {
  const byName = new Map(entries.map((e) => [e.name.replace(/\/$/, ''), e]));
  assert.equal(byName.get('etc')?.type, 'directory');
  // --sort=name: etc/hard comes first and holds the content, etc/os-release links to it.
  assert.equal(byName.get('etc/hard')?.content, 'ID=debian\n');
  assert.equal(byName.get('etc/hard')?.uid, 1000);
  assert.equal(byName.get('etc/hard')?.mode, 0o644);
  assert.equal(byName.get('etc/empty')?.size, 0);
  assert.equal(byName.get('etc/big')?.content, 'x'.repeat(5000));
  assert.equal(byName.get('etc/link')?.type, 'symlink');
  assert.equal(byName.get('etc/link')?.linkname, 'os-release');
  assert.equal(byName.get('etc/os-release')?.type, 'hardlink');
  assert.equal(byName.get('etc/os-release')?.linkname, 'etc/hard');
  assert.equal(byName.get('etc/os-release')?.size, 0);
}

void describe('tar parser', () => {
  for (const format of ['ustar', 'gnu', 'oldgnu', 'pax'] as const) {
    void it(`reads ${format} archives whatever the chunking, content only where asked`, () => {
      const archive = gnuTar(format, 'short');
      const whole = parse(archive);
      checkCommon(whole);
      for (const chunk of [1, 7, 511, 512, 513, 4096]) assert.deepEqual(parse(archive, chunk), whole, `chunks of ${chunk}`);
    });
  }

  for (const format of ['gnu', 'pax'] as const) {
    void it(`reads ${format} long names and long link targets`, () => {
      const entries = parse(gnuTar(format, 'long'), 333);
      checkCommon(entries);
      const file = entries.find((e) => e.name === LONG_FILE);
      assert.ok(file, `${LONG_FILE.length}-byte name read whole`);
      assert.equal(file.content, 'long name\n');
      assert.equal(entries.find((e) => e.name === 'long-target')?.linkname, `/${LONG_FILE}`);
      // The metadata entries themselves are not entries.
      assert.ok(entries.every((e) => !e.name.includes('PaxHeaders') && e.name !== '././@LongLink'));
    });
  }

  void it('splits ustar names at the prefix field (a path over 100 bytes without extensions)', () => {
    const entries = parse(gnuTar('ustar', 'short'));
    assert.ok(entries.length >= 6);
    const root = mkdtempSync(join(work, 'prefix-'));
    const dir = `${'p'.repeat(80)}/${'q'.repeat(40)}`;
    mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, dir, 'file'), 'in prefix\n');
    const archive = execFileSync('tar', ['-c', '--format=ustar', '-C', root, 'p'.repeat(80)]);
    const file = parse(archive).find((e) => e.name === `${dir}/file`);
    assert.equal(file?.content, 'in prefix\n');
  });

  void it('applies pax size, uid and gid over the ustar fields, and global headers to every later entry', () => {
    const archive = Buffer.concat([
      paxEntry('g', 'uid=7\n'),
      paxEntry('x', 'path=renamed.txt\n'),
      ustarEntry('short.txt', '0', 'hello'),
      ustarEntry('second.txt', '0', 'again'),
      endBlocks(),
    ]);
    const entries = parse(archive, 100);
    assert.deepEqual(
      entries.map((e) => [e.name, e.uid, e.content]),
      [
        ['renamed.txt', 7, 'hello'],
        ['second.txt', 7, 'again'],
      ],
    );
  });

  void it('refuses a truncated archive: inside an entry, inside a header, at an entry boundary, and a pax header with nothing after it', () => {
    const archive = gnuTar('pax', 'long');
    const boundary = ustarEntry('a', '0', 'abc').length;
    assert.deepEqual(
      parse(Buffer.concat([ustarEntry('a', '0', 'abc'), endBlocks()])).map((e) => e.name),
      ['a'],
    );
    assert.throws(() => parse(Buffer.concat([ustarEntry('a', '0', 'abc'), ustarEntry('b', '0', 'def')]).subarray(0, boundary)), /end-of-archive/);
    assert.deepEqual(parse(Buffer.alloc(0)), [], 'an empty layer');
    for (const cut of [700, 512 + 100, 1000, Math.floor(archive.length / 4)]) {
      assert.throws(
        () => parse(archive.subarray(0, cut), 64),
        (err: unknown) => ChainError.is(err) && err.code === 'BAD_INPUT' && /truncated|ends inside/.test(err.message),
        `cut at ${cut}`,
      );
    }
    assert.throws(() => parse(paxEntry('x', 'path=x\n')), /ends inside/);
  });

  void it('refuses a header whose checksum does not match, and a non-octal number', () => {
    const archive = Buffer.from(gnuTar('ustar', 'short'));
    const flipped = Buffer.from(archive);
    flipped[0] = flipped[0]! ^ 1;
    assert.throws(() => parse(flipped), /checksum mismatch/);
    const badSize = ustarEntry('a', '0', 'abc');
    badSize.write('9', 124);
    fixChecksum(badSize);
    assert.throws(() => parse(badSize), /size is not an octal number/);
  });

  void it('accepts the checksum old writers summed over signed bytes, and no other', () => {
    const block = ustarEntry('caf\xe9-\xff', '0', 'abc'); // bytes above 127, which signed and unsigned sums count apart
    block.write('caf\xe9-\xff', 0, 'latin1');
    block.fill(0x20, 148, 156);
    let signed = 0;
    for (let i = 0; i < 512; i++) signed += block[i]! > 127 ? block[i]! - 256 : block[i]!;
    block.write(`${signed.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    assert.equal(parse(Buffer.concat([block, Buffer.alloc(1024)]))[0]?.content, 'abc');
    block.write(`${(signed + 1).toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    assert.throws(() => parse(Buffer.concat([block, Buffer.alloc(1024)])), /checksum mismatch/);
    fixChecksum(block); // the unsigned sum
    assert.equal(parse(Buffer.concat([block, Buffer.alloc(1024)]))[0]?.content, 'abc');
  });

  void it('reads GNU base-256 sizes', () => {
    const block = ustarEntry('big-number', '0', 'abc');
    block.fill(0, 124, 136);
    block[124] = 0x80;
    block[135] = 3;
    fixChecksum(block);
    assert.equal(parse(Buffer.concat([block, endBlocks()]))[0]?.content, 'abc');
  });

  void it('stops at the end-of-archive blocks and ignores what follows', () => {
    const archive = Buffer.concat([ustarEntry('a', '0', 'abc'), endBlocks(), Buffer.from('trailing garbage')]);
    assert.deepEqual(
      parse(archive).map((e) => e.name),
      ['a'],
    );
  });
});

function fixChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i]!;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
}

/** One ustar header (and padded content) written by hand, for the cases no tar writer produces on demand. */
function ustarEntry(name: string, flag: string, content: string): Buffer {
  const body = Buffer.from(content);
  const block = Buffer.alloc(512);
  block.write(name, 0);
  block.write('0000644\0', 100);
  block.write('0000000\0', 108);
  block.write('0000000\0', 116);
  block.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124);
  block.write('00000000000\0', 136);
  block.write(flag, 156);
  block.write('ustar\x0000', 257, 'latin1');
  fixChecksum(block);
  const padded = Buffer.alloc(Math.ceil(body.length / 512) * 512);
  body.copy(padded);
  return Buffer.concat([block, padded]);
}

function paxEntry(flag: 'x' | 'g', records: string): Buffer {
  const lines = records
    .split('\n')
    .filter(Boolean)
    .map((r) => {
      // The length counts itself: grow it until it is stable.
      let n = r.length + 3;
      while (`${n} ${r}\n`.length !== n) n = `${n} ${r}\n`.length;
      return `${n} ${r}\n`;
    })
    .join('');
  return ustarEntry('PaxHeaders/x', flag, lines);
}

function endBlocks(): Buffer {
  return Buffer.alloc(1024);
}
