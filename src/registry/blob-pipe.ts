import { createHash } from 'node:crypto';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type SecureContext } from 'node:tls';
import { ChainError } from '../errors';
import { algorithmOf, digestMismatch } from './digest';
import { declaredLength, fieldValue, parseResponseHead, type ResponseHead } from './response-head';

/** One request's destination, as the transport would send it (see RegistryTransport.endpoint). */
export interface PipeEndpoint {
  url: URL;
  /** Header fields to send: user agent, and credentials (only ever for the transport's own origin). */
  headers: Record<string, string>;
  rejectUnauthorized: boolean;
  ca?: string;
  /** Trust to verify the server with when `ca` is absent (the deferred NODE_EXTRA_CA_CERTS, security/deferred-ca.ts). */
  secureContext?: SecureContext;
  timeoutMs: number;
}

export interface PipeRequest {
  /** GET of the blob on the source. */
  from: PipeEndpoint;
  /** PUT that commits the upload on the target (its URL carries ?digest=); resolved while the GET starts. */
  to: Promise<PipeEndpoint | undefined>;
  digest: string;
  size: number;
  what: string;
  onBytes?: (bytes: number) => void;
  abort?: { signal: AbortSignal; error: () => Error };
}

/** Copied, or why not, with nothing committed: the caller then copies through the HTTP client. */
export type PipeOutcome = { copied: true } | { copied: false; reason: string };

/** Bytes a socket read fills. */
const BUFFER_BYTES = 256 * 1024;
/** Buffers one transfer holds (read, being written, or held back) before it stops reading the source. */
const MAX_BUFFERS_IN_FLIGHT = 8;
/** Buffers kept for reuse between transfers. */
const POOL_LIMIT = 64;
const pool: Buffer[] = [];

function takeBuffer(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(BUFFER_BYTES);
}

function releaseBuffer(buffer: Buffer): void {
  if (pool.length < POOL_LIMIT) pool.push(buffer);
}

/**
 * Streams a blob from one registry's GET response into another's upload PUT over two sockets of
 * its own, for large blobs. The HTTP client allocates a buffer per socket read (64 KiB of external
 * memory each, which is what drives V8 into full GCs while hundreds of megabytes pass); here the
 * source socket reads into a small pool of reused buffers (`onread`), each handed to the target
 * socket's write and returned to the pool by its callback, and no stream sits in between.
 *
 * Fail closed as DigestVerifier is: every byte is hashed and the last piece is held back until the
 * digest matched, so a corrupt source never makes the registry see the whole declared length and the
 * upload cannot commit. Only what this path needs of HTTP/1.1 is spoken: one request per connection
 * (Connection: close), the source's body framed by Content-Length equal to the blob's size, the
 * upload's by the Content-Length we send. Anything else (a redirect, a challenge, chunked framing,
 * an error status, a broken connection) ends the attempt with a reason, and the caller copies the
 * blob through the HTTP client, which handles all of that.
 */
export function pipeBlob(req: PipeRequest): Promise<PipeOutcome> {
  return new Promise<PipeOutcome>((resolve, reject) => new Transfer(req, resolve, reject).start());
}

class Transfer {
  private source: Socket | undefined;
  private target: Socket | undefined;
  private readonly hash;
  private sourceHead: Buffer | undefined = Buffer.alloc(0);
  private targetHead = Buffer.alloc(0);
  private bodyBytes = 0;
  private inFlight = 0;
  private paused = false;
  /** The last piece, written only once the digest matched, and the pool buffer it lies in. */
  private held: { piece: Buffer; buffer: Buffer } | undefined;
  /** Pieces read before the target was ready. */
  private queued: Array<{ piece: Buffer; buffer: Buffer }> = [];
  private targetReady = false;
  private corked = false;
  private allSent = false;
  private settled = false;
  private readonly onAbort = () => this.fail(this.req.abort?.error() ?? new Error('aborted'));

  constructor(
    private readonly req: PipeRequest,
    private readonly resolve: (outcome: PipeOutcome) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.hash = createHash(algorithmOf(req.digest));
  }

  start(): void {
    const { abort, from } = this.req;
    if (abort?.signal.aborted) return this.onAbort();
    abort?.signal.addEventListener('abort', this.onAbort, { once: true });
    const head = requestHead('GET', from, {});
    // The socket reads into the buffer this returns, hands it to the callback, then asks for the next one.
    const onread = { buffer: takeBuffer, callback: (bytes: number, buffer: Uint8Array) => this.onSourceData(bytes, buffer as Buffer) };
    this.source = open(from, onread);
    // Once the whole body is in, the source's closing (Connection: close) is expected.
    this.source.on('error', (err) => this.bodyBytes < this.req.size && this.giveUp(`source connection: ${err.message}`));
    this.source.on('close', () => this.bodyBytes < this.req.size && this.giveUp('source closed the connection before the whole blob arrived'));
    this.source.write(head);
    this.req.to.then(
      (to) => (to ? this.openTarget(to) : this.giveUp('upload location on another origin')),
      (err: unknown) => this.giveUp(`upload location: ${(err as Error).message}`),
    );
  }

  private openTarget(to: PipeEndpoint): void {
    if (this.settled) return;
    let head: string;
    try {
      head = requestHead('PUT', to, { 'content-type': 'application/octet-stream', 'content-length': String(this.req.size) });
    } catch (err) {
      this.giveUp((err as Error).message);
      return;
    }
    const target = open(to);
    this.target = target;
    target.on('error', (err) => this.giveUp(`target connection: ${err.message}`));
    target.on('close', () => this.giveUp('target closed the connection before answering'));
    target.on('data', (chunk: Buffer) => this.onTargetData(chunk));
    target.write(head);
    this.targetReady = true;
    for (const queued of this.queued.splice(0)) this.send(queued);
    if (this.bodyBytes === this.req.size) this.finish();
  }

  /** Called by the source socket for every read; false pauses it (too many buffers in flight). */
  private onSourceData(bytes: number, buffer: Buffer): boolean {
    if (this.settled) {
      releaseBuffer(buffer);
      return false;
    }
    let piece = buffer.subarray(0, bytes);
    if (this.sourceHead) {
      const headBytes = Buffer.concat([this.sourceHead, piece]);
      let head: ResponseHead | undefined;
      try {
        head = parseResponseHead(headBytes);
      } catch (err) {
        releaseBuffer(buffer);
        this.giveUp((err as Error).message);
        return false;
      }
      if (!head) {
        this.sourceHead = headBytes;
        releaseBuffer(buffer);
        return true;
      }
      const unusable = this.checkSourceHead(head);
      if (unusable) {
        releaseBuffer(buffer);
        this.giveUp(unusable);
        return false;
      }
      // The body starts within this read: at the same offset of `piece` as past the head in `headBytes`.
      piece = piece.subarray(head.length - this.sourceHead.length);
      this.sourceHead = undefined;
    }
    // Bytes past the declared length are not part of the blob (the connection is closed after it).
    piece = piece.subarray(0, this.req.size - this.bodyBytes);
    if (piece.length === 0) {
      releaseBuffer(buffer);
      return true;
    }
    this.bodyBytes += piece.length;
    this.hash.update(piece);
    this.req.onBytes?.(this.bodyBytes);
    this.inFlight++;
    const previous = this.held;
    this.held = { piece, buffer };
    if (previous) this.send(previous);
    if (this.bodyBytes === this.req.size) {
      this.finish();
      return false;
    }
    if (this.inFlight >= MAX_BUFFERS_IN_FLIGHT) {
      this.paused = true;
      return false;
    }
    return true;
  }

  private checkSourceHead(head: ResponseHead): string | undefined {
    if (head.status !== 200) return `source answered ${head.status}`;
    const encoding = fieldValue(head, 'content-encoding');
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return `source sent content-encoding ${encoding}`;
    const length = declaredLength(head);
    if (length === undefined) return 'source body not framed by Content-Length';
    if (length !== this.req.size) return `source declares ${length} bytes, the descriptor ${this.req.size}`;
    return undefined;
  }

  private send(item: { piece: Buffer; buffer: Buffer }): void {
    if (!this.targetReady) {
      this.queued.push(item);
      return;
    }
    const target = this.target as Socket;
    // Pieces read within one turn of the event loop leave in one writev.
    if (!this.corked) {
      this.corked = true;
      target.cork();
      process.nextTick(() => {
        this.corked = false;
        target.uncork();
      });
    }
    target.write(item.piece, () => {
      releaseBuffer(item.buffer);
      this.inFlight--;
      if (this.paused && this.inFlight < MAX_BUFFERS_IN_FLIGHT && !this.settled) {
        this.paused = false;
        this.source?.resume();
      }
    });
  }

  /** All bytes read: the last piece goes out only if the digest matches. */
  private finish(): void {
    if (!this.targetReady || this.allSent || this.settled) return;
    const actual = `${this.req.digest.slice(0, this.req.digest.indexOf(':'))}:${this.hash.digest('hex')}`;
    if (actual !== this.req.digest) {
      this.fail(digestMismatch(this.req.what, this.req.digest, actual));
      return;
    }
    this.allSent = true;
    this.source?.destroy();
    const last = this.held as { piece: Buffer; buffer: Buffer };
    this.held = undefined;
    this.send(last);
  }

  private onTargetData(chunk: Buffer): void {
    if (this.settled) return;
    this.targetHead = Buffer.concat([this.targetHead, chunk]);
    let head: ResponseHead | undefined;
    try {
      head = parseResponseHead(this.targetHead);
    } catch (err) {
      this.giveUp((err as Error).message);
      return;
    }
    if (!head) return;
    // Interim answers (100 Continue) precede the final one (RFC 9110 §15.2).
    if (head.status < 200) {
      this.targetHead = this.targetHead.subarray(head.length);
      this.onTargetData(Buffer.alloc(0));
      return;
    }
    if (head.status !== 201) return this.giveUp(`target answered ${head.status}`);
    if (!this.allSent) return this.giveUp('target answered 201 before the whole blob was sent');
    const stored = fieldValue(head, 'docker-content-digest');
    if (stored !== undefined && stored !== this.req.digest) return this.fail(digestMismatch(`target stored ${this.req.what}`, this.req.digest, stored));
    this.settle();
    this.resolve({ copied: true });
  }

  /** Ends without a copy and without an error: the caller copies through the HTTP client. */
  private giveUp(reason: string): void {
    if (this.settled) return;
    this.settle();
    this.resolve({ copied: false, reason });
  }

  private fail(err: unknown): void {
    if (this.settled) return;
    this.settle();
    this.reject(err);
  }

  private settle(): void {
    this.settled = true;
    this.req.abort?.signal.removeEventListener('abort', this.onAbort);
    this.source?.destroy();
    this.target?.destroy();
    // Buffers never handed to a write are ours to return; written ones come back through their callbacks.
    for (const item of [...this.queued.splice(0), ...(this.held ? [this.held] : [])]) releaseBuffer(item.buffer);
    this.held = undefined;
  }
}

function open(endpoint: PipeEndpoint, onread?: { buffer: () => Buffer; callback: (bytes: number, buffer: Uint8Array) => boolean }): Socket {
  const { url } = endpoint;
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const socket =
    url.protocol === 'https:'
      ? connectTls({
          host,
          port,
          ...(isIp(host) ? {} : { servername: host }),
          rejectUnauthorized: endpoint.rejectUnauthorized,
          ...(endpoint.ca ? { ca: endpoint.ca } : endpoint.secureContext ? { secureContext: endpoint.secureContext } : {}),
          ...(onread ? { onread } : {}),
        })
      : connectTcp({ host, port, ...(onread ? { onread } : {}) });
  socket.setNoDelay(true);
  socket.setTimeout(endpoint.timeoutMs, () => socket.destroy(new ChainError('TRANSIENT', `no data for ${endpoint.timeoutMs} ms`)));
  return socket;
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

/** Request line and header fields (RFC 9112 §3, §5); values come from the transport and from URLs, never with CR or LF. */
function requestHead(method: 'GET' | 'PUT', endpoint: PipeEndpoint, extra: Record<string, string>): string {
  const fields = { host: endpoint.url.host, ...endpoint.headers, ...extra, connection: 'close' };
  const lines = Object.entries(fields).map(([name, value]) => {
    if (/[\r\n]/.test(value)) throw new ChainError('BAD_INPUT', `header ${name} holds a line break`);
    return `${name}: ${value}`;
  });
  return `${method} ${endpoint.url.pathname}${endpoint.url.search} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}
