/**
 * Read-only Berkeley DB hash databases (the rpm `Packages` file of RHEL/CentOS ≤ 8 and Amazon Linux 2),
 * per libdb's db_page.h: a hash metadata page, then pages of which the hash pages (P_HASH, and
 * P_HASH_UNSORTED before 4.6) hold key/data item pairs. Small items are inline (H_KEYDATA); large ones
 * (every rpm header in practice) are chains of overflow pages (H_OFFPAGE). Byte order is the writer's,
 * told by the magic number. Every offset, length and page number is checked against the file; a bad
 * item costs that item, a bad metadata page the whole file.
 */

const HASH_MAGIC = 0x061561;
const VALID_PAGE_SIZES = new Set([512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]);
const PAGE_HEADER = 26;
const P_HASH_UNSORTED = 2;
const P_OVERFLOW = 7;
const P_HASHMETA = 8;
const P_HASH = 13;
const H_KEYDATA = 1;
const H_OFFPAGE = 3;
const HOFFPAGE_SIZE = 12;

export class BdbError extends Error {
  override readonly name = 'BdbError';
}

export interface BdbItem {
  key: Buffer;
  value: Buffer;
}

export interface BdbReadResult {
  items: BdbItem[];
  /** Items that could not be read, with the reason (page and index). */
  errors: string[];
  /** The byte order the database was written in, for decoding integer keys. */
  littleEndian: boolean;
}

interface Page {
  no: number;
  next: number;
  entries: number;
  hfOffset: number;
  type: number;
  data: Buffer;
}

export function readBdbHash(buf: Buffer): BdbReadResult {
  if (buf.length < 512) throw new BdbError(`${buf.length} bytes is too short for a Berkeley DB metadata page`);
  const le = buf.readUInt32LE(12) === HASH_MAGIC;
  if (!le && buf.readUInt32BE(12) !== HASH_MAGIC) throw new BdbError('not a Berkeley DB hash database (magic number)');
  const u32 = (b: Buffer, at: number) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const u16 = (b: Buffer, at: number) => (le ? b.readUInt16LE(at) : b.readUInt16BE(at));
  const pageSize = u32(buf, 20);
  if (!VALID_PAGE_SIZES.has(pageSize)) throw new BdbError(`invalid page size ${pageSize}`);
  if (buf[24] !== 0) throw new BdbError(`encrypted database (algorithm ${buf[24]})`);
  if (buf[25] !== P_HASHMETA) throw new BdbError(`first page is of type ${buf[25]}, not hash metadata`);
  const lastPage = u32(buf, 32);
  const pageCount = Math.min(lastPage + 1, Math.floor(buf.length / pageSize));

  const page = (no: number): Page | undefined => {
    if (no < 1 || no >= pageCount) return undefined;
    const data = buf.subarray(no * pageSize, (no + 1) * pageSize);
    return { no, next: u32(data, 16), entries: u16(data, 20), hfOffset: u16(data, 22), type: data[25]!, data };
  };

  const overflow = (first: number, total: number): Buffer => {
    const parts: Buffer[] = [];
    let length = 0;
    const seen = new Set<number>();
    for (let no = first; no !== 0;) {
      if (seen.has(no)) throw new BdbError(`overflow chain loops at page ${no}`);
      seen.add(no);
      const p = page(no);
      if (!p) throw new BdbError(`overflow page ${no} outside the ${pageCount}-page file`);
      if (p.type !== P_OVERFLOW) throw new BdbError(`page ${no} in an overflow chain is of type ${p.type}`);
      // On overflow pages hf_offset is the number of data bytes the page holds.
      if (PAGE_HEADER + p.hfOffset > pageSize) throw new BdbError(`overflow page ${no} claims ${p.hfOffset} bytes`);
      length += p.hfOffset;
      if (length > total) throw new BdbError(`overflow chain from page ${first} is longer than its item (${total} bytes)`);
      parts.push(p.data.subarray(PAGE_HEADER, PAGE_HEADER + p.hfOffset));
      no = p.next;
    }
    if (length !== total) throw new BdbError(`overflow chain from page ${first} holds ${length} of ${total} bytes`);
    return Buffer.concat(parts, length);
  };

  const items: BdbItem[] = [];
  const errors: string[] = [];
  for (let no = 1; no < pageCount; no++) {
    const p = page(no)!;
    if (p.type !== P_HASH && p.type !== P_HASH_UNSORTED) continue;
    const indexEnd = PAGE_HEADER + 2 * p.entries;
    if (p.entries % 2 !== 0 || indexEnd > pageSize) {
      errors.push(`page ${no}: ${p.entries} index entries`);
      continue;
    }
    const offsets = Array.from({ length: p.entries }, (_, i) => u16(p.data, PAGE_HEADER + 2 * i));
    // An item runs from its offset to the previous item's (items fill the page from its end, in index order).
    const item = (i: number): Buffer => {
      const start = offsets[i]!;
      const end = i === 0 ? pageSize : offsets[i - 1]!;
      if (start < indexEnd || start >= end || end > pageSize) throw new BdbError(`item ${i} at ${start}..${end}`);
      return p.data.subarray(start, end);
    };
    for (let i = 0; i < p.entries; i += 2) {
      try {
        const key = item(i);
        const value = item(i + 1);
        if (key[0] !== H_KEYDATA) throw new BdbError(`key of item type ${key[0]}`);
        let data: Buffer;
        if (value[0] === H_KEYDATA) data = value.subarray(1);
        else if (value[0] === H_OFFPAGE) {
          if (value.length < HOFFPAGE_SIZE) throw new BdbError('truncated off-page reference');
          data = overflow(u32(value, 4), u32(value, 8));
        } else throw new BdbError(`value of unsupported item type ${value[0]}`);
        items.push({ key: key.subarray(1), value: data });
      } catch (e) {
        if (!(e instanceof BdbError)) throw e;
        errors.push(`page ${no} pair ${i / 2}: ${e.message}`);
      }
    }
  }
  return { items, errors, littleEndian: le };
}
