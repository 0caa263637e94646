/** Valid structures the fuzz targets mutate: tar streams built by hand (GNU, PAX, base-256), rpm headers, file trees. */
import { type FileNode, FileTree } from '../../src/scan/fs/tree';

// ------------------------------------------------------------------------------------------- tar

export interface RawTarEntry {
  name: string;
  type?: string; // typeflag character: '0' file, '5' dir, '2' symlink, '1' hard link, 'L' GNU long name, 'x' PAX…
  content?: Buffer | string;
  linkname?: string;
  /** Overrides the size field (raw 12 bytes: octal text, or base-256 with the high bit set). */
  sizeField?: Buffer;
  mode?: number;
  gnu?: boolean;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** One 512-byte header, checksum included. */
export function tarHeader(e: RawTarEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.name.slice(0, 100), 0, 'utf8');
  h.write(octal(e.mode ?? 0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  if (e.sizeField) e.sizeField.copy(h, 124, 0, 12);
  else h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii');
  h.write(e.type ?? '0', 156, 'ascii');
  if (e.linkname) h.write(e.linkname.slice(0, 100), 157, 'utf8');
  if (e.gnu) h.write('ustar  \0', 257, 'ascii');
  else h.write('ustar\u000000', 257, 'ascii');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);

/** A tar stream of raw entries, ending with the two zero blocks (unless `end` is false). */
export function rawTar(entries: RawTarEntry[], end = true): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const content = Buffer.isBuffer(e.content) ? e.content : Buffer.from(e.content ?? '');
    parts.push(tarHeader(e, content.length), pad(content));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** PAX extended header content ("<len> key=value\n" records). */
export function paxRecords(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([k, v]) => {
      const body = ` ${k}=${v}\n`;
      let len = body.length + 1;
      while (`${len}${body}`.length !== len) len = `${len}${body}`.length;
      return `${len}${body}`;
    })
    .join('');
}

/** A base-256 size field (GNU extension for sizes ≥ 8 GiB; a leading 0xff is negative). */
export function base256(value: bigint, negative = false): Buffer {
  const b = Buffer.alloc(12, negative ? 0xff : 0);
  let v = value;
  for (let i = 11; i >= 1 && v > 0n; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  b[0] = negative ? 0xff : 0x80;
  return b;
}

const longName = `usr/share/${'very-long-directory-name/'.repeat(12)}file.txt`;

/** Tar streams that cover the formats' corners: ustar, GNU long names and links, PAX paths and sizes, whiteouts. */
export function tarSeeds(): Buffer[] {
  return [
    rawTar([
      { name: 'etc/', type: '5', mode: 0o755 },
      { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
      { name: 'bin/sh', type: '2', linkname: 'dash' },
      { name: 'bin/hl', type: '1', linkname: 'etc/os-release' },
      { name: 'var/lib/dpkg/status', content: 'Package: a\nVersion: 1\nStatus: install ok installed\n\n' },
    ]),
    rawTar([
      { name: '././@LongLink', type: 'L', content: `${longName}\0`, gnu: true },
      { name: longName.slice(0, 100), content: 'long', gnu: true },
      { name: '././@LongLink', type: 'K', content: `${longName}\0`, gnu: true },
      { name: 'link', type: '2', linkname: longName.slice(0, 100), gnu: true },
    ]),
    rawTar([
      { name: 'PaxHeader', type: 'x', content: paxRecords({ path: longName, size: '5', uid: '4294967296' }) },
      { name: 'short', content: 'hello' },
      { name: 'GlobalHead', type: 'g', content: paxRecords({ comment: 'x' }) },
      { name: 'usr/.wh.gone', content: '' },
      { name: 'opt/.wh..wh..opq', content: '' },
    ]),
    rawTar([
      { name: 'huge', content: '', sizeField: base256(2n ** 62n) },
      { name: 'after', content: 'x' },
    ]),
    rawTar([{ name: 'negative', content: '', sizeField: base256(5n, true) }]),
    rawTar([{ name: 'octal-max', sizeField: Buffer.from('77777777777\0', 'ascii') }], false),
    rawTar([
      { name: '../../etc/passwd', content: 'root:x:0:0::/:/bin/sh\n' },
      { name: '/abs/file', content: 'x' },
      { name: 'lnk', type: '2', linkname: '../../../../etc' },
      { name: 'lnk/passwd', content: 'through a symlink' },
    ]),
  ];
}

// ------------------------------------------------------------------------------------ rpm header

/** An rpm header blob (as the rpm database stores it) with an immutable region over every tag. */
export function rpmHeaderBlob(tags: { tag: number; type: number; value: string | string[] | number[] }[]): Buffer {
  const data: Buffer[] = [];
  let length = 0;
  const entries: Buffer[] = [];
  const entry = (tag: number, type: number, offset: number, count: number) => {
    const e = Buffer.alloc(16);
    e.writeInt32BE(tag, 0);
    e.writeUInt32BE(type, 4);
    e.writeInt32BE(offset, 8);
    e.writeUInt32BE(count, 12);
    return e;
  };
  const push = (b: Buffer, align: number) => {
    const padding = (align - (length % align)) % align;
    if (padding) {
      data.push(Buffer.alloc(padding));
      length += padding;
    }
    const at = length;
    data.push(b);
    length += b.length;
    return at;
  };
  for (const t of tags) {
    if (typeof t.value === 'string') entries.push(entry(t.tag, t.type, push(Buffer.from(`${t.value}\0`), 1), 1));
    else if (t.value.length > 0 && typeof t.value[0] === 'string')
      entries.push(entry(t.tag, t.type, push(Buffer.from((t.value as string[]).map((s) => `${s}\0`).join('')), 1), t.value.length));
    else {
      const nums = t.value as number[];
      const bytes = Buffer.alloc(nums.length * 4);
      nums.forEach((n, i) => bytes.writeUInt32BE(n >>> 0, i * 4));
      entries.push(entry(t.tag, t.type, push(bytes, 4), nums.length));
    }
  }
  const il = entries.length + 1;
  const trailerAt = push(entry(63, 7, -il * 16, 16), 1);
  const head = Buffer.alloc(8);
  head.writeInt32BE(il, 0);
  head.writeInt32BE(length, 4);
  return Buffer.concat([head, entry(63, 7, trailerAt, 16), ...entries, ...data]);
}

const STRING = 6;
const STRING_ARRAY = 8;
const INT32 = 4;
const I18N = 9;

export function rpmHeaderSeeds(): Buffer[] {
  return [
    rpmHeaderBlob([
      { tag: 1000, type: STRING, value: 'openssl-libs' },
      { tag: 1001, type: STRING, value: '3.0.7' },
      { tag: 1002, type: STRING, value: '27.el9' },
      { tag: 1003, type: INT32, value: [1] },
      { tag: 1014, type: STRING, value: 'ASL 2.0' },
      { tag: 1022, type: STRING, value: 'x86_64' },
      { tag: 1030, type: 3, value: [] },
      { tag: 1044, type: STRING, value: 'openssl-3.0.7-27.el9.src.rpm' },
      { tag: 1116, type: INT32, value: [0, 1, 1] },
      { tag: 1117, type: STRING_ARRAY, value: ['libcrypto.so.3', 'libssl.so.3', 'openssl.cnf'] },
      { tag: 1118, type: STRING_ARRAY, value: ['/usr/lib64/', '/etc/pki/tls/'] },
      { tag: 1037, type: INT32, value: [0, 0, 1] },
    ]),
    rpmHeaderBlob([
      { tag: 1000, type: STRING, value: 'bash' },
      { tag: 1001, type: STRING, value: '5.1.8' },
      { tag: 1002, type: STRING, value: '6.el9' },
      { tag: 1004, type: I18N, value: ['The GNU Bourne Again shell'] },
      { tag: 1027, type: STRING_ARRAY, value: ['/usr/bin/bash', '/usr/bin/sh'] },
    ]),
  ];
}

// ------------------------------------------------------------------------------------- file tree

export function treeOf(files: Record<string, string | Buffer>, layer = 'sha256:l0'): FileTree {
  const tree = new FileTree();
  const entries: FileNode[] = Object.entries(files).map(([path, content]) => {
    const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
    return { path, type: 'file', mode: 0o644, uid: 0, gid: 0, size: buf.length, layerIndex: 0, layer, content: buf };
  });
  tree.apply({ index: 0, digest: layer, whiteouts: [], opaqueDirs: [], entries });
  return tree;
}
