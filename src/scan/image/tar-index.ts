/**
 * Random access into an uncompressed tar file (a docker-archive or an oci-archive) without extracting it:
 * one pass over the 512-byte headers records where each member's data starts, and members are then read or
 * streamed straight from the file. Image archives hold a few dozen members, so the pass reads a few KiB.
 *
 * Header layout (POSIX ustar, with the GNU `L` long-name and PAX `x` path extensions skopeo and docker write):
 * name[100] at 0, size[12] octal at 124, typeflag at 156, linkname[100] at 157, magic "ustar" at 257,
 * prefix[155] at 345.
 */
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { ChainError } from '../../errors';

export interface TarMember {
  offset: number;
  size: number;
}

const BLOCK = 512;
/** Members' own headers beyond this many mean the file is no image archive (a rootfs tar, say). */
const MAX_MEMBERS = 100_000;
/** PAX and GNU long-name records are small; a larger one is malformed. */
const MAX_EXTENDED_HEADER = 1024 * 1024;

function cString(buf: Buffer, start: number, length: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end < 0 || end > start + length ? start + length : end);
}

function octal(buf: Buffer, start: number, length: number, file: string): number {
  // Base-256 (GNU) sizes, for members of 8 GiB and more, start with 0x80.
  if ((buf[start]! & 0x80) !== 0) {
    let value = 0;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + buf[i]!;
    return value;
  }
  const text = cString(buf, start, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new ChainError('BAD_INPUT', `${file} is not a tar archive (bad size field "${text.slice(0, 12)}")`);
  return text === '' ? 0 : parseInt(text, 8);
}

function paxPath(record: Buffer): string | undefined {
  // "<length> <key>=<value>\n" records.
  let at = 0;
  let path: string | undefined;
  while (at < record.length) {
    const space = record.indexOf(0x20, at);
    if (space < 0) break;
    const length = parseInt(record.toString('ascii', at, space), 10);
    if (!Number.isFinite(length) || length <= 0) break;
    const line = record.toString('utf8', space + 1, at + length - 1);
    const eq = line.indexOf('=');
    if (line.slice(0, eq) === 'path') path = line.slice(eq + 1);
    at += length;
  }
  return path;
}

/** Member names as the archive writer meant them: no leading "./" or "/". */
const clean = (name: string) => posix.normalize(name.replace(/^(\.\/|\/)+/, '')).replace(/\/$/, '');

export class TarIndex {
  private readonly members = new Map<string, TarMember>();
  private readonly links = new Map<string, string>();

  private constructor(readonly file: string) {}

  /** Reads the headers of `file`; a compressed or truncated file is refused with what it is. */
  static open(file: string): TarIndex {
    const index = new TarIndex(file);
    const fileSize = statSync(file).size;
    const fd = openSync(file, 'r');
    try {
      const header = Buffer.alloc(BLOCK);
      const head = readSync(fd, header, 0, BLOCK, 0);
      if ((header[0] === 0x1f && header[1] === 0x8b) || (head >= 4 && header.readUInt32LE(0) === 0xfd2fb528)) {
        throw new ChainError('BAD_INPUT', `${file} is a compressed file; image archives are plain tar files (decompress it first)`);
      }
      if (head < BLOCK) throw new ChainError('BAD_INPUT', `${file} is not a tar archive (${head} bytes)`);
      let offset = 0;
      let longName: string | undefined;
      let count = 0;
      while (offset + BLOCK <= fileSize) {
        readSync(fd, header, 0, BLOCK, offset);
        if (header.every((b) => b === 0)) break; // end-of-archive blocks
        if (offset === 0 && header.toString('ascii', 257, 262) !== 'ustar') throw new ChainError('BAD_INPUT', `${file} is not a tar archive`);
        if (++count > MAX_MEMBERS) throw new ChainError('TOO_LARGE', `${file} has more than ${MAX_MEMBERS} members; not an image archive`);
        const size = octal(header, 124, 12, file);
        const type = String.fromCharCode(header[156]!);
        const dataAt = offset + BLOCK;
        if (dataAt + size > fileSize) throw new ChainError('BAD_INPUT', `${file} is truncated (a member ends past the end of the file)`);
        offset = dataAt + Math.ceil(size / BLOCK) * BLOCK;
        if (type === 'L' || type === 'x') {
          if (size > MAX_EXTENDED_HEADER) throw new ChainError('BAD_INPUT', `${file} has an extended header of ${size} bytes`);
          const record = Buffer.alloc(size);
          readSync(fd, record, 0, size, dataAt);
          longName = type === 'L' ? cString(record, 0, size) : (paxPath(record) ?? longName);
          continue;
        }
        if (type === 'g') continue; // global PAX header
        const prefix = header.toString('ascii', 257, 262) === 'ustar' ? cString(header, 345, 155) : '';
        const name = clean(longName ?? (prefix ? `${prefix}/${cString(header, 0, 100)}` : cString(header, 0, 100)));
        longName = undefined;
        if (type === '0' || type === '\0' || type === '7') index.members.set(name, { offset: dataAt, size });
        else if (type === '2' || type === '1') {
          const target = cString(header, 157, 100);
          // Symbolic links are relative to the member's directory, hard links name a member of the archive.
          index.links.set(name, clean(type === '2' ? posix.join(posix.dirname(name), target) : target));
        }
      }
    } finally {
      closeSync(fd);
    }
    return index;
  }

  /** The member a name refers to, following links (docker save links a repeated layer to its first copy). */
  member(name: string): TarMember | undefined {
    let current = clean(name);
    for (let hops = 0; hops < 16; hops++) {
      const found = this.members.get(current);
      if (found) return found;
      const next = this.links.get(current);
      if (next === undefined) return undefined;
      current = next;
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.member(name) !== undefined;
  }

  /** A member's bytes, refused above `maxBytes` (manifests and configs are small; a huge one is hostile). */
  read(name: string, maxBytes: number): Buffer {
    const m = this.require(name);
    if (m.size > maxBytes) throw new ChainError('TOO_LARGE', `${this.file}: ${name} is ${m.size} bytes, more than the limit of ${maxBytes}`);
    const out = Buffer.alloc(m.size);
    const fd = openSync(this.file, 'r');
    try {
      readSync(fd, out, 0, m.size, m.offset);
    } finally {
      closeSync(fd);
    }
    return out;
  }

  stream(name: string): Readable {
    const m = this.require(name);
    if (m.size === 0) return Readable.from([]);
    return createReadStream(this.file, { start: m.offset, end: m.offset + m.size - 1, highWaterMark: 256 * 1024 });
  }

  private require(name: string): TarMember {
    const m = this.member(name);
    if (!m) throw new ChainError('BAD_INPUT', `${this.file} has no member ${name}`);
    return m;
  }
}
