/**
 * RPM header blobs as the rpm database stores them (the header without its 8-byte magic): a big-endian
 * index count `il` and data length `dl`, `il` 16-byte entries (tag, type, offset, count) and a `dl`-byte
 * data store. Installed headers begin with the immutable region (tag 63), whose trailer in the data store
 * says how many entries it covers; entries after it (added at install time) replace duplicates inside it.
 * Everything is bounds-checked: a malformed blob raises RpmHeaderError with the reason, never reads past
 * the blob and never allocates more than the blob's own size.
 */

export const RPMTAG = {
  HEADERIMMUTABLE: 63,
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  VENDOR: 1011,
  LICENSE: 1014,
  ARCH: 1022,
  OLDFILENAMES: 1027,
  FILEMODES: 1030,
  FILEFLAGS: 1037,
  SOURCERPM: 1044,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
} as const;

/** rpmTagType values (lib/rpmtag.h). */
const TYPE = { NULL: 0, CHAR: 1, INT8: 2, INT16: 3, INT32: 4, INT64: 5, STRING: 6, BIN: 7, STRING_ARRAY: 8, I18NSTRING: 9 } as const;
const TYPE_SIZE: Record<number, number> = { [TYPE.CHAR]: 1, [TYPE.INT8]: 1, [TYPE.INT16]: 2, [TYPE.INT32]: 4, [TYPE.INT64]: 8, [TYPE.BIN]: 1 };

/** rpm's own ceilings (lib/header.c HEADER_TAGS_MAX, HEADER_DATA_MAX). */
const MAX_TAGS = 0xffff;
const MAX_DATA = 0x0fffffff;
const ENTRY_SIZE = 16;
const RPMFILE_CONFIG = 1 << 0;

export class RpmHeaderError extends Error {
  override readonly name = 'RpmHeaderError';
}

interface Entry {
  tag: number;
  type: number;
  offset: number;
  count: number;
}

export class RpmHeader {
  private readonly entries = new Map<number, Entry>();

  constructor(
    private readonly data: Buffer,
    entries: Entry[],
  ) {
    for (const e of entries) this.entries.set(e.tag, e);
  }

  /** A STRING (or the first, untranslated string of an I18NSTRING / STRING_ARRAY); undefined when absent. */
  string(tag: number): string | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    if (e.type !== TYPE.STRING && e.type !== TYPE.I18NSTRING && e.type !== TYPE.STRING_ARRAY)
      throw new RpmHeaderError(`tag ${tag} is of type ${e.type}, not a string`);
    return this.strings(e, 1)[0];
  }

  stringArray(tag: number): string[] | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    if (e.type !== TYPE.STRING_ARRAY && e.type !== TYPE.I18NSTRING) throw new RpmHeaderError(`tag ${tag} is of type ${e.type}, not a string array`);
    return this.strings(e, e.count);
  }

  /** An integer array of any width (INT8/16/32; INT64 when it fits in a double exactly). */
  numbers(tag: number): number[] | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    const out: number[] = [];
    for (let i = 0; i < e.count; i++) {
      if (e.type === TYPE.INT8 || e.type === TYPE.CHAR) out.push(this.data.readUInt8(e.offset + i));
      else if (e.type === TYPE.INT16) out.push(this.data.readUInt16BE(e.offset + 2 * i));
      else if (e.type === TYPE.INT32) out.push(this.data.readUInt32BE(e.offset + 4 * i));
      else if (e.type === TYPE.INT64) {
        const v = this.data.readBigUInt64BE(e.offset + 8 * i);
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RpmHeaderError(`tag ${tag}: 64-bit value out of range`);
        out.push(Number(v));
      } else throw new RpmHeaderError(`tag ${tag} is of type ${e.type}, not an integer`);
    }
    return out;
  }

  number(tag: number): number | undefined {
    return this.numbers(tag)?.[0];
  }

  /** `count` NUL-terminated strings from the entry's offset; the bounds were checked when the entry was read. */
  private strings(e: Entry, count: number): string[] {
    const out: string[] = [];
    let pos = e.offset;
    for (let i = 0; i < count; i++) {
      const end = this.data.indexOf(0, pos);
      if (end < 0) throw new RpmHeaderError(`tag ${e.tag}: unterminated string`);
      out.push(this.data.toString('utf8', pos, end));
      pos = end + 1;
    }
    return out;
  }
}

/** Length in the data store of an entry of this type and count, or a reason it is invalid. */
function entryLength(data: Buffer, e: Entry): number {
  if (e.type === TYPE.NULL) return 0;
  const size = TYPE_SIZE[e.type];
  if (size !== undefined) {
    if (e.offset % size !== 0) throw new RpmHeaderError(`tag ${e.tag}: offset ${e.offset} not aligned for type ${e.type}`);
    if (e.count > (data.length - e.offset) / size)
      throw new RpmHeaderError(`tag ${e.tag}: ${e.count} values of type ${e.type} at ${e.offset} overrun the ${data.length}-byte data store`);
    return e.count * size;
  }
  if (e.type === TYPE.STRING && e.count !== 1) throw new RpmHeaderError(`tag ${e.tag}: STRING with count ${e.count}`);
  let pos = e.offset;
  for (let i = 0; i < e.count; i++) {
    const end = data.indexOf(0, pos);
    if (end < 0) throw new RpmHeaderError(`tag ${e.tag}: string ${i + 1} of ${e.count} runs past the data store`);
    pos = end + 1;
  }
  return pos - e.offset;
}

/** Parses and validates one header blob. */
export function parseRpmHeader(blob: Uint8Array): RpmHeader {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (buf.length < 8) throw new RpmHeaderError(`blob of ${buf.length} bytes is shorter than the 8-byte preamble`);
  const il = buf.readInt32BE(0);
  const dl = buf.readInt32BE(4);
  if (il < 1 || il > MAX_TAGS) throw new RpmHeaderError(`index count ${il} out of range`);
  if (dl < 0 || dl > MAX_DATA) throw new RpmHeaderError(`data length ${dl} out of range`);
  const dataStart = 8 + il * ENTRY_SIZE;
  if (buf.length < dataStart + dl) throw new RpmHeaderError(`blob of ${buf.length} bytes is shorter than its ${il} entries and ${dl} data bytes`);
  const data = buf.subarray(dataStart, dataStart + dl);

  const entries: Entry[] = [];
  for (let i = 0; i < il; i++) {
    const at = 8 + i * ENTRY_SIZE;
    const e: Entry = { tag: buf.readInt32BE(at), type: buf.readUInt32BE(at + 4), offset: buf.readInt32BE(at + 8), count: buf.readUInt32BE(at + 12) };
    if (e.type > TYPE.I18NSTRING) throw new RpmHeaderError(`tag ${e.tag}: unknown type ${e.type}`);
    if (e.offset < 0 || e.offset > dl) throw new RpmHeaderError(`tag ${e.tag}: offset ${e.offset} outside the ${dl}-byte data store`);
    if (e.count > dl) throw new RpmHeaderError(`tag ${e.tag}: count ${e.count} out of range`);
    entries.push(e);
  }

  const first = entries[0]!;
  if (first.tag === RPMTAG.HEADERIMMUTABLE) {
    // The region trailer: an entry (tag 63, BIN, -(il of the region)*16, 16) stored at the region tag's offset.
    if (first.type !== TYPE.BIN || first.count !== ENTRY_SIZE) throw new RpmHeaderError(`region tag of type ${first.type} and count ${first.count}`);
    if (first.offset + ENTRY_SIZE > dl) throw new RpmHeaderError(`region trailer at ${first.offset} outside the ${dl}-byte data store`);
    const trailerTag = data.readInt32BE(first.offset);
    const trailerOffset = data.readInt32BE(first.offset + 8);
    const ril = -trailerOffset / ENTRY_SIZE;
    if (trailerTag !== RPMTAG.HEADERIMMUTABLE || !Number.isInteger(ril) || ril < 1 || ril > il) {
      throw new RpmHeaderError(`invalid region trailer (tag ${trailerTag}, offset ${trailerOffset}) for ${il} entries`);
    }
  }
  // Every entry's values lie inside the data store (a legacy header without a region included).
  for (const [i, e] of entries.entries()) {
    if (i === 0 && e.tag === RPMTAG.HEADERIMMUTABLE) continue;
    if (e.tag === RPMTAG.HEADERIMMUTABLE) throw new RpmHeaderError('region tag repeated');
    entryLength(data, e);
  }
  return new RpmHeader(data, entries);
}

export interface RpmPackageInfo {
  name: string;
  /** undefined when the package has no Epoch tag (rpm's EPOCHNUM is then 0). */
  epoch?: number;
  version: string;
  release: string;
  arch?: string;
  /** The source rpm file name, e.g. openssl-3.0.7-27.el9.src.rpm. */
  sourceRpm?: string;
  license?: string;
  vendor?: string;
  /** Absolute paths of the files it owns (not its directories), config files marked. */
  files: { path: string; config: boolean; directory: boolean }[];
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

/** The fields the cataloger needs; throws RpmHeaderError for blobs that are malformed or lack NAME/VERSION/RELEASE. */
export function readRpmPackage(blob: Uint8Array): RpmPackageInfo {
  const h = parseRpmHeader(blob);
  const name = h.string(RPMTAG.NAME);
  const version = h.string(RPMTAG.VERSION);
  const release = h.string(RPMTAG.RELEASE);
  if (!name || !version || release === undefined) throw new RpmHeaderError('header without NAME, VERSION or RELEASE');
  const epoch = h.number(RPMTAG.EPOCH);
  const nonEmpty = (s: string | undefined) => (s ? s : undefined);
  const arch = nonEmpty(h.string(RPMTAG.ARCH));
  const sourceRpm = nonEmpty(h.string(RPMTAG.SOURCERPM));
  const license = nonEmpty(h.string(RPMTAG.LICENSE));
  const vendor = nonEmpty(h.string(RPMTAG.VENDOR));
  return {
    name,
    version,
    release,
    ...(epoch !== undefined ? { epoch } : {}),
    ...(arch ? { arch } : {}),
    ...(sourceRpm ? { sourceRpm } : {}),
    ...(license ? { license } : {}),
    ...(vendor ? { vendor } : {}),
    files: fileList(h),
  };
}

function fileList(h: RpmHeader): RpmPackageInfo['files'] {
  let paths: string[];
  const basenames = h.stringArray(RPMTAG.BASENAMES);
  if (basenames) {
    const dirnames = h.stringArray(RPMTAG.DIRNAMES) ?? [];
    const indexes = h.numbers(RPMTAG.DIRINDEXES) ?? [];
    if (indexes.length !== basenames.length) throw new RpmHeaderError(`${basenames.length} basenames but ${indexes.length} directory indexes`);
    paths = basenames.map((b, i) => {
      const dir = dirnames[indexes[i]!];
      if (dir === undefined) throw new RpmHeaderError(`directory index ${indexes[i]} of ${dirnames.length} directories`);
      return dir + b;
    });
  } else paths = h.stringArray(RPMTAG.OLDFILENAMES) ?? [];
  const flags = h.numbers(RPMTAG.FILEFLAGS) ?? [];
  const modes = h.numbers(RPMTAG.FILEMODES) ?? [];
  return paths.map((path, i) => ({ path, config: ((flags[i] ?? 0) & RPMFILE_CONFIG) !== 0, directory: ((modes[i] ?? 0) & S_IFMT) === S_IFDIR }));
}
