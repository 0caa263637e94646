/**
 * The digest checks the scanner needs for images on disk (a docker-archive or an OCI layout), without the
 * registry client's module graph (undici, the copy engine) that a local scan never uses.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ChainError } from '../errors';

/** An image manifest digest as the chain names images (sha256, the algorithm registries use). */
export const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** OCI digest grammar for the registered algorithms (sha256, sha512). */
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}

function algorithmOf(digest: string): 'sha256' | 'sha512' {
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}

export function digestOf(data: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

function mismatch(what: string, expected: string, actual: string): ChainError {
  return new ChainError('DIGEST_MISMATCH', `${what}: expected digest ${expected}, content hashes to ${actual}`, { details: { expected, actual } });
}

/** Checks `data` against `expected` with the algorithm the digest names. */
export function verifyDigest(data: Buffer, expected: string, what: string): void {
  const actual = digestOf(data, algorithmOf(expected));
  if (actual !== expected) throw mismatch(what, expected, actual);
}

/** Hashes bytes as they come and tells, at the end, whether they match `expected` (a DIGEST_MISMATCH error when not). */
export class DigestCheck {
  private readonly hash: Hash;

  constructor(
    private readonly expected: string,
    private readonly what: string,
  ) {
    this.hash = createHash(algorithmOf(expected));
  }

  update(chunk: Buffer): void {
    this.hash.update(chunk);
  }

  /** The mismatch, or undefined when the bytes hash to the expected digest. */
  result(): ChainError | undefined {
    const actual = `${algorithmOf(this.expected)}:${this.hash.digest('hex')}`;
    return actual === this.expected ? undefined : mismatch(this.what, this.expected, actual);
  }
}

/** Passes bytes through unchanged while hashing them; fails the stream with DIGEST_MISMATCH at the end when the content does not match. */
export class DigestVerifier extends Transform {
  private readonly check: DigestCheck;

  constructor(expected: string, what: string) {
    super({ highWaterMark: 256 * 1024 });
    this.check = new DigestCheck(expected, what);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.check.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    callback(this.check.result() ?? null);
  }
}
