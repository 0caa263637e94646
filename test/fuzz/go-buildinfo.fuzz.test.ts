/** Go build info in ELF binaries: section headers, the buildinfo magic, varint strings, module lines. */
import { existsSync, readFileSync } from 'node:fs';
import { describe } from 'node:test';
import { parseGoBuildInfo } from '../../src/scan/catalog/go-buildinfo';
import { fuzzTarget, mutated } from './harness';

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  do {
    out.push((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
    v = Math.floor(v / 128);
  } while (v > 0);
  return Buffer.from(out);
}

const SENTINEL = Buffer.alloc(16, 0x30);
const MODINFO = 'path\texample.com/app\nmod\texample.com/app\tv1.2.3\th1:abc=\ndep\tgolang.org/x/net\tv0.17.0\th1:xyz=\n=>\tgolang.org/x/net\tv0.18.0\th1:q=\n';

/** The Go ≥ 1.18 buildinfo blob: magic, pointer size, flags (inline strings), then the version and module strings. */
function buildInfo(version = 'go1.22.1', modinfo = MODINFO): Buffer {
  const head = Buffer.alloc(32);
  head.write('\xff Go buildinf:', 0, 'latin1');
  head[14] = 8;
  head[15] = 2;
  const mod = Buffer.concat([SENTINEL, Buffer.from(modinfo), SENTINEL]);
  return Buffer.concat([head, varint(version.length), Buffer.from(version), varint(mod.length), mod]);
}

/** A minimal 64-bit little-endian ELF whose section headers name a .go.buildinfo section. */
function elfWithSection(info: Buffer): Buffer {
  const shstr = Buffer.from('\0.shstrtab\0.go.buildinfo\0');
  const infoAt = 64 + Math.ceil(shstr.length / 16) * 16;
  const shoff = infoAt + Math.ceil(info.length / 16) * 16;
  const out = Buffer.alloc(shoff + 3 * 64);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  out.writeBigUInt64LE(BigInt(shoff), 0x28);
  out.writeUInt16LE(64, 0x3a);
  out.writeUInt16LE(3, 0x3c);
  out.writeUInt16LE(1, 0x3e);
  shstr.copy(out, 64);
  info.copy(out, infoAt);
  const section = (i: number, name: number, offset: number, size: number) => {
    const at = shoff + i * 64;
    out.writeUInt32LE(name, at);
    out.writeBigUInt64LE(BigInt(offset), at + 0x18);
    out.writeBigUInt64LE(BigInt(size), at + 0x20);
  };
  section(1, 1, 64, shstr.length);
  section(2, 11, infoAt, info.length);
  return out;
}

/** No section headers: found by the 16-byte aligned magic, as in stripped binaries. */
const elfMagicOnly = (info: Buffer) => Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(57), info]);

/** The buildinfo region of a real Go binary (crane), when the tools are installed. */
function realRegion(): Buffer[] {
  const crane = '.tools/bin/crane';
  if (!existsSync(crane)) return [];
  const bin = readFileSync(crane);
  const at = bin.indexOf(Buffer.from('\xff Go buildinf:', 'latin1'));
  if (at < 0) return [];
  return [elfMagicOnly(bin.subarray(at, at + 16 * 1024))];
}

void describe('fuzz: Go build info', () => {
  const seeds = [elfWithSection(buildInfo()), elfMagicOnly(buildInfo()), elfWithSection(buildInfo('go1.21.0', 'mod\tx\t(devel)\t\n')), ...realRegion()];
  fuzzTarget('go-buildinfo', mutated(seeds, 8), (bin) => parseGoBuildInfo(bin), { runs: 1000 });
});
