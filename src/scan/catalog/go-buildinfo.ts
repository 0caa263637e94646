/**
 * Go build information embedded by the linker (runtime/debug.BuildInfo), read from an ELF binary
 * without running it: find the `.go.buildinfo` section (or the 16-byte aligned magic), then the
 * varint-prefixed Go version and module info strings of the Go ≥ 1.18 format.
 */

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const FLAGS_INLINE_STRINGS = 0x2;

export interface GoModule {
  path: string;
  version: string;
  sum?: string;
}

export interface GoBuildInfo {
  goVersion: string;
  path?: string;
  main?: GoModule;
  deps: GoModule[];
}

export const isElf = (head: Buffer): boolean => head.length >= 4 && head.subarray(0, 4).equals(ELF_MAGIC);

/** File offset of the .go.buildinfo section from the ELF section headers, if present. */
function buildInfoSectionOffset(bin: Buffer): number | undefined {
  if (!isElf(bin) || bin.length < 64) return undefined;
  const is64 = bin[4] === 2;
  const le = bin[5] === 1;
  const u16 = (o: number) => (le ? bin.readUInt16LE(o) : bin.readUInt16BE(o));
  const u32 = (o: number) => (le ? bin.readUInt32LE(o) : bin.readUInt32BE(o));
  const uptr = (o: number) => (is64 ? Number(le ? bin.readBigUInt64LE(o) : bin.readBigUInt64BE(o)) : u32(o));
  const shoff = uptr(is64 ? 0x28 : 0x20);
  const shentsize = u16(is64 ? 0x3a : 0x2e);
  const shnum = u16(is64 ? 0x3c : 0x30);
  const shstrndx = u16(is64 ? 0x3e : 0x32);
  if (shoff === 0 || shoff + shnum * shentsize > bin.length || shstrndx >= shnum) return undefined;
  const section = (i: number) => {
    const base = shoff + i * shentsize;
    return { name: u32(base), offset: uptr(base + (is64 ? 0x18 : 0x10)), size: uptr(base + (is64 ? 0x20 : 0x14)) };
  };
  const strtab = section(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const nameStart = strtab.offset + s.name;
    if (nameStart + 13 > bin.length) continue;
    if (bin.toString('latin1', nameStart, nameStart + 13) === '.go.buildinfo' && bin[nameStart + 13] === 0 && s.offset + 32 <= bin.length) return s.offset;
  }
  return undefined;
}

function findMagic(bin: Buffer): number | undefined {
  for (let at = bin.indexOf(MAGIC); at >= 0; at = bin.indexOf(MAGIC, at + 1)) if (at % 16 === 0) return at;
  return undefined;
}

function readVarint(bin: Buffer, at: number): [value: number, next: number] | undefined {
  let value = 0;
  let shift = 0;
  for (let i = at; i < bin.length && shift < 35; i++) {
    const b = bin[i]!;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, i + 1];
    shift += 7;
  }
  return undefined;
}

function readString(bin: Buffer, at: number): [string, number] | undefined {
  const v = readVarint(bin, at);
  if (!v || v[1] + v[0] > bin.length) return undefined;
  return [bin.toString('utf8', v[1], v[1] + v[0]), v[1] + v[0]];
}

export function parseModInfo(modinfo: string): Omit<GoBuildInfo, 'goVersion'> {
  let text = modinfo;
  // The linker wraps the text in 16-byte sentinels.
  if (text.length >= 33 && text[text.length - 17] === '\n') text = text.slice(16, -16);
  const info: Omit<GoBuildInfo, 'goVersion'> = { deps: [] };
  let last: GoModule | undefined;
  for (const line of text.split('\n')) {
    const [kind, path, version, sum] = line.split('\t');
    if (kind === 'path' && path) info.path = path;
    else if ((kind === 'mod' || kind === 'dep') && path) {
      last = { path, version: version ?? '', ...(sum ? { sum } : {}) };
      if (kind === 'mod') info.main = last;
      else info.deps.push(last);
    } else if (kind === '=>' && last && path) {
      // A replace directive: the code really built is the replacement's.
      last.path = path;
      last.version = version ?? '';
      if (sum) last.sum = sum;
      else delete last.sum;
    }
  }
  return info;
}

export function parseGoBuildInfo(bin: Buffer): GoBuildInfo | undefined {
  const at = buildInfoSectionOffset(bin) ?? findMagic(bin);
  if (at === undefined || !bin.subarray(at, at + MAGIC.length).equals(MAGIC)) return undefined;
  const flags = bin[at + 15]!;
  // Go < 1.18 stores pointers to the strings instead; those binaries are not supported.
  if ((flags & FLAGS_INLINE_STRINGS) === 0) return undefined;
  const version = readString(bin, at + 32);
  if (!version || !version[0].startsWith('go')) return undefined;
  const modinfo = readString(bin, version[1]);
  return { goVersion: version[0], ...parseModInfo(modinfo?.[0] ?? '') };
}
