/**
 * A push-style tar reader: fed the decompressed layer bytes chunk by chunk, it calls back once per entry with
 * the entry's header, and hands content bytes only to the entries that asked for them. Content nobody needs
 * (most of a layer) is stepped over by counting, with no stream or callback per chunk, which is where a
 * stream-per-entry extractor spends its time on a large layer.
 *
 * Formats: POSIX ustar (name split into prefix/name), pax extended headers ('x', and 'g' for the rest of the
 * archive) for long paths, link targets, sizes and ids, GNU long names and link targets ('L', 'K') and GNU
 * base-256 numbers. A header whose checksum does not match, or an archive that ends inside a header or an
 * entry's content, is refused: a layer read in part would hide the packages it did not reach.
 */
import { ChainError } from '../../errors';

const BLOCK = 512;
/** An end-of-archive block, compared with natively rather than byte by byte in a callback. */
const ZERO_BLOCK = Buffer.alloc(BLOCK);

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'directory' | 'other';

export interface TarHeader {
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  /** Content bytes (0 for everything but regular files). */
  size: number;
  linkname: string;
}

/** Receives one entry's content, in order, when the entry's header asked for it. */
export interface TarContentSink {
  write(chunk: Buffer): void;
  end(): void;
}

/** Called per entry; returning a sink asks for the content, undefined skips it unread. */
export type TarEntryHandler = (header: TarHeader) => TarContentSink | undefined;

/** Pax records (and GNU long names) are metadata: bounded so that a hostile header cannot allocate without limit. */
const MAX_META_BYTES = 1024 * 1024;

type State =
  | { kind: 'header' }
  | { kind: 'content'; remaining: number; padding: number; sink: TarContentSink | undefined }
  | { kind: 'meta'; type: string; remaining: number; padding: number; parts: Buffer[] }
  | { kind: 'padding'; remaining: number }
  | { kind: 'done' };

function bad(message: string): ChainError {
  return new ChainError('BAD_INPUT', `not a valid tar stream: ${message}`);
}

/** A NUL-terminated field as text (headers are bytes; names are UTF-8 in practice). */
function text(block: Buffer, offset: number, length: number): string {
  const end = block.indexOf(0, offset);
  return block.toString('utf8', offset, end === -1 || end > offset + length ? offset + length : end);
}

/** An octal field, or a GNU base-256 number (high bit of the first byte set). */
function numeric(block: Buffer, offset: number, length: number, what: string): number {
  const first = block[offset]!;
  if (first & 0x80) {
    if (first !== 0x80) throw bad(`negative or oversized base-256 ${what}`);
    let value = 0;
    for (let i = offset + 1; i < offset + length; i++) value = value * 256 + block[i]!;
    if (!Number.isSafeInteger(value)) throw bad(`${what} out of range`);
    return value;
  }
  let value = 0;
  let seen = false;
  for (let i = offset; i < offset + length; i++) {
    const c = block[i]!;
    if (c === 0 || c === 0x20) {
      if (seen) break;
      continue; // leading spaces
    }
    if (c < 0x30 || c > 0x37) throw bad(`${what} is not an octal number`);
    value = value * 8 + (c - 0x30);
    seen = true;
  }
  return value;
}

function checksumMatches(block: Buffer): boolean {
  const stored = numeric(block, 148, 8, 'checksum');
  // One pass for both sums (a layer has a header per file): the signed sum is the unsigned one less 256 per byte
  // above 127; the checksum field itself counts as eight spaces.
  let unsigned = 8 * 0x20;
  let high = 0;
  for (let i = 0; i < 148; i++) {
    const b = block[i]!;
    unsigned += b;
    high += b >> 7;
  }
  for (let i = 156; i < BLOCK; i++) {
    const b = block[i]!;
    unsigned += b;
    high += b >> 7;
  }
  // Some old writers summed signed bytes; both are accepted, as GNU tar does.
  return stored === unsigned || stored === unsigned - 256 * high;
}

function entryType(flag: string): TarEntryType {
  switch (flag) {
    case '0':
    case '\0':
    case '7':
      return 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '5':
      return 'directory';
    default:
      return 'other';
  }
}

/** `<length> <key>=<value>\n` records; later records win. */
function parsePax(data: Buffer, into: Map<string, string>): void {
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) break;
    const length = Number(data.toString('ascii', pos, space));
    if (!Number.isInteger(length) || length <= 0 || pos + length > data.length) throw bad('malformed pax record');
    const record = data.toString('utf8', space + 1, pos + length - 1);
    const eq = record.indexOf('=');
    if (eq === -1) throw bad('malformed pax record');
    into.set(record.slice(0, eq), record.slice(eq + 1));
    pos += length;
  }
}

/**
 * A header field's pax value: the entry's own record, else the archive's global one. A function rather than a closure
 * made per header: the CLI bundle gives every named closure its name when it is made (esbuild's keepNames), a
 * defineProperty per header of a layer.
 */
function paxValue(pax: Map<string, string> | undefined, global: Map<string, string>, key: string): string | undefined {
  return pax?.get(key) ?? global.get(key);
}

function paxNumber(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw bad(`pax ${what} "${value.slice(0, 32)}" is not a number`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw bad(`pax ${what} out of range`);
  return n;
}

export class TarParser {
  private state: State = { kind: 'header' };
  /** Bytes of a header block split across chunks. */
  private partial: Buffer | undefined;
  private readonly global = new Map<string, string>();
  private pax: Map<string, string> | undefined;
  private longName: string | undefined;
  private longLink: string | undefined;
  /** Whether any byte came: an empty stream is an empty layer, not a truncated one. */
  private started = false;

  constructor(private readonly onEntry: TarEntryHandler) {}

  /** Feeds the next bytes of the archive; throws (a BAD_INPUT ChainError) on a malformed header. */
  push(chunk: Buffer): void {
    if (chunk.length > 0) this.started = true;
    let pos = 0;
    while (pos < chunk.length) {
      const state = this.state;
      switch (state.kind) {
        case 'done':
          return; // what follows the end-of-archive blocks is padding
        case 'header': {
          let block: Buffer;
          if (this.partial !== undefined || chunk.length - pos < BLOCK) {
            const have = this.partial?.length ?? 0;
            const take = Math.min(BLOCK - have, chunk.length - pos);
            this.partial = this.partial ? Buffer.concat([this.partial, chunk.subarray(pos, pos + take)]) : Buffer.from(chunk.subarray(pos, pos + take));
            pos += take;
            if (this.partial.length < BLOCK) return;
            block = this.partial;
            this.partial = undefined;
          } else {
            block = chunk.subarray(pos, pos + BLOCK);
            pos += BLOCK;
          }
          this.header(block);
          break;
        }
        case 'content': {
          const take = Math.min(state.remaining, chunk.length - pos);
          if (take > 0) state.sink?.write(chunk.subarray(pos, pos + take));
          pos += take;
          state.remaining -= take;
          if (state.remaining === 0) {
            state.sink?.end();
            this.state = state.padding > 0 ? { kind: 'padding', remaining: state.padding } : { kind: 'header' };
          }
          break;
        }
        case 'meta': {
          const take = Math.min(state.remaining, chunk.length - pos);
          // A copy: the chunk's buffer may be refilled before the record's last bytes come (see file-range.ts).
          state.parts.push(Buffer.from(chunk.subarray(pos, pos + take)));
          pos += take;
          state.remaining -= take;
          if (state.remaining === 0) {
            this.meta(state.type, Buffer.concat(state.parts));
            this.state = state.padding > 0 ? { kind: 'padding', remaining: state.padding } : { kind: 'header' };
          }
          break;
        }
        case 'padding': {
          const take = Math.min(state.remaining, chunk.length - pos);
          pos += take;
          state.remaining -= take;
          if (state.remaining === 0) this.state = { kind: 'header' };
          break;
        }
      }
    }
  }

  /** The archive's bytes have all been pushed: refuses one that stops inside a header or an entry. */
  end(): void {
    const state = this.state;
    if (state.kind === 'done') return;
    if (state.kind === 'header' && !this.started) return; // an empty layer
    // Without the end-of-archive blocks a stream cut at an entry boundary would look whole: every tar writer
    // (Go's archive/tar, GNU tar, BuildKit) ends with them, so their absence is truncation.
    if (state.kind === 'header' && this.partial === undefined && this.pax === undefined && this.longName === undefined && this.longLink === undefined)
      throw bad('archive ends without its end-of-archive blocks (truncated)');
    throw bad(state.kind === 'header' ? 'archive ends inside a header (truncated)' : 'archive ends inside an entry (truncated)');
  }

  private header(block: Buffer): void {
    if (block.equals(ZERO_BLOCK)) {
      // End of archive: two zero blocks; tolerate one (some writers stop there), the stream end decides.
      this.state = { kind: 'done' };
      return;
    }
    if (!checksumMatches(block)) throw bad('header checksum mismatch');
    const flag = String.fromCharCode(block[156]!);
    const size = numeric(block, 124, 12, 'size');
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_META_BYTES) throw bad(`extended header of ${size} bytes`);
      if (size === 0) this.meta(flag, Buffer.alloc(0));
      else this.state = { kind: 'meta', type: flag, remaining: size, padding, parts: [] };
      return;
    }
    const pax = this.pax;
    const global = this.global;
    const magic = block.toString('latin1', 257, 263);
    const prefix = magic === 'ustar\0' ? text(block, 345, 155) : ''; // GNU ('ustar  ') keeps other fields there
    const name = this.longName ?? paxValue(pax, global, 'path') ?? (prefix ? `${prefix}/${text(block, 0, 100)}` : text(block, 0, 100));
    const linkname = this.longLink ?? paxValue(pax, global, 'linkpath') ?? text(block, 157, 100);
    const type = entryType(flag);
    const contentSize = paxNumber(paxValue(pax, global, 'size'), 'size') ?? size;
    const header: TarHeader = {
      name,
      type,
      mode: numeric(block, 100, 8, 'mode'),
      uid: paxNumber(paxValue(pax, global, 'uid'), 'uid') ?? numeric(block, 108, 8, 'uid'),
      gid: paxNumber(paxValue(pax, global, 'gid'), 'gid') ?? numeric(block, 116, 8, 'gid'),
      size: type === 'file' ? contentSize : 0,
      linkname,
    };
    this.pax = undefined;
    this.longName = undefined;
    this.longLink = undefined;
    // Links, directories and devices carry no content whatever their size field says (hard links in some writers).
    const stored = flag === '1' || flag === '2' || flag === '5' || flag === '3' || flag === '4' || flag === '6' ? 0 : contentSize;
    const sink = this.onEntry(header);
    if (stored === 0) {
      sink?.end();
      this.state = { kind: 'header' };
      return;
    }
    this.state = { kind: 'content', remaining: stored, padding: (BLOCK - (stored % BLOCK)) % BLOCK, sink };
  }

  private meta(type: string, data: Buffer): void {
    switch (type) {
      case 'x':
        parsePax(data, (this.pax ??= new Map()));
        break;
      case 'g':
        parsePax(data, this.global);
        break;
      case 'L':
        this.longName = text(data, 0, data.length);
        break;
      case 'K':
        this.longLink = text(data, 0, data.length);
        break;
    }
  }
}
