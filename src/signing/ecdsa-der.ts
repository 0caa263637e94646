/**
 * PKCS#11 tokens return ECDSA signatures as r || s (IEEE P1363); cosign stores ASN.1 DER
 * `SEQUENCE { INTEGER r, INTEGER s }` (SEC 1 §C.8). This is that conversion for P-256, whose
 * DER form always fits a short-form length.
 */
import { ChainError } from '../errors';

const P256_COORDINATE_BYTES = 32;

export function p1363ToDer(signature: Buffer): Buffer {
  if (signature.length !== 2 * P256_COORDINATE_BYTES) {
    throw new ChainError('INTERNAL', `expected a ${2 * P256_COORDINATE_BYTES}-byte P-256 r||s signature, got ${signature.length} bytes`);
  }
  const body = Buffer.concat([derInteger(signature.subarray(0, P256_COORDINATE_BYTES)), derInteger(signature.subarray(P256_COORDINATE_BYTES))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/** Unsigned big-endian bytes as a DER INTEGER: minimal length, a 0x00 prefix when the top bit is set. */
function derInteger(unsigned: Buffer): Buffer {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  const digits = unsigned.subarray(start);
  const value = (digits[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), digits]) : digits;
  return Buffer.concat([Buffer.from([0x02, value.length]), value]);
}
