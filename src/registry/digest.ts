import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { z } from 'zod';
import { ChainError } from '../errors';

/** An image manifest digest as the chain names images (sha256, the algorithm registries use). */
export const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** The zod schema of such a digest, with the message bad input is answered with. */
export function sha256DigestSchema(message = 'a sha256:<64 hex> digest') {
  return z.string().regex(SHA256_DIGEST, message);
}

/** OCI digest grammar for the registered algorithms (sha256, sha512). */
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}

export function assertDigest(value: string, what = 'digest'): string {
  if (!isDigest(value)) throw new ChainError('BAD_INPUT', `${what} "${value}" is not a sha256:<64 hex> or sha512:<128 hex> digest`);
  return value;
}

export function algorithmOf(digest: string): 'sha256' | 'sha512' {
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}

export function digestOf(data: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

export function digestMismatch(what: string, expected: string, actual: string): ChainError {
  return new ChainError('DIGEST_MISMATCH', `${what}: expected digest ${expected}, content hashes to ${actual}`, { details: { expected, actual } });
}

/** Checks `data` against `expected` with the algorithm the digest names. */
export function verifyDigest(data: Buffer, expected: string, what: string): void {
  const actual = digestOf(data, algorithmOf(expected));
  if (actual !== expected) throw digestMismatch(what, expected, actual);
}

/**
 * Passes bytes through unchanged while hashing them; fails the stream with DIGEST_MISMATCH at the
 * end when the content does not match `expected`, or TOO_LARGE as soon as more than `maxBytes` pass.
 * The last chunk is held back until the digest matched, so whatever reads the stream — an upload
 * request in particular — never receives the whole of a corrupt blob and cannot complete with it
 * (fail closed). Hashing stays on this thread: with SHA extensions it runs at GB/s, and handing
 * chunks to a worker costs more than it saves on a two-core machine.
 */
export class DigestVerifier extends Transform {
  private readonly hash: Hash;
  private bytes = 0;
  private held: Buffer | undefined;

  constructor(
    private readonly expected: string,
    private readonly what: string,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
    /** Called with the bytes seen so far after every chunk. */
    private readonly onBytes?: (bytes: number) => void,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.hash = createHash(algorithmOf(expected));
  }

  get bytesSeen(): number {
    return this.bytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      callback(new ChainError('TOO_LARGE', `${this.what} is larger than the limit of ${this.maxBytes} bytes`));
      return;
    }
    this.hash.update(chunk);
    this.onBytes?.(this.bytes);
    const previous = this.held;
    this.held = chunk;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    const actual = `${algorithmOf(this.expected)}:${this.hash.digest('hex')}`;
    const last = this.held;
    this.held = undefined;
    if (actual !== this.expected) callback(digestMismatch(this.what, this.expected, actual));
    else callback(null, last);
  }
}
