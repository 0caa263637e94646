import { Agent as HttpAgent, type IncomingHttpHeaders, type IncomingMessage, request as httpRequest, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { type Readable } from 'node:stream';

export interface HttpPoolOptions {
  /** Sockets per origin. */
  connections: number;
  /** Idle time (connect, headers, body) after which a request fails with ETIMEDOUT. */
  timeoutMs: number;
  rejectUnauthorized: boolean;
  ca?: string;
}

export interface HttpExchange {
  method: string;
  url: URL;
  headers: Record<string, string>;
  /** Sent whole, or piped with backpressure (the stream is destroyed when the request fails). */
  body?: Buffer | Readable;
}

/** A response whose body has not been read: the caller streams it on or drains it. */
export type HttpResponse = IncomingMessage;
export type ResponseHeaders = IncomingHttpHeaders;

/** Bytes a request body may queue in the socket before the body stream is paused. */
const BODY_HIGH_WATER_MARK = 1024 * 1024;

/**
 * Keep-alive connection pools for http and https on node's own HTTP stack. Why not undici: blob
 * transfer is the sync stage's hot path, and undici's WASM parser copies every body chunk between
 * WASM memory and JS buffers; node's native parser hands the socket's buffers through, which costs
 * the copy half the CPU. Responses come back as the IncomingMessage itself, so a blob body can be
 * piped straight into an upload.
 */
export class HttpPool {
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;

  constructor(private readonly options: HttpPoolOptions) {
    const common = { keepAlive: true, maxSockets: options.connections, maxFreeSockets: options.connections, scheduling: 'lifo' as const };
    this.http = new HttpAgent(common);
    this.https = new HttpsAgent({ ...common, rejectUnauthorized: options.rejectUnauthorized, ...(options.ca ? { ca: options.ca } : {}) });
  }

  request(exchange: HttpExchange): Promise<HttpResponse> {
    const { url, body } = exchange;
    const tls = url.protocol === 'https:';
    return new Promise<HttpResponse>((resolve, reject) => {
      // highWaterMark (node ≥ 18.8) is missing from the type definitions.
      const options: RequestOptions & { highWaterMark: number } = {
        method: exchange.method,
        headers: exchange.headers,
        agent: tls ? this.https : this.http,
        timeout: this.options.timeoutMs,
        highWaterMark: BODY_HIGH_WATER_MARK,
      };
      const req = (tls ? httpsRequest : httpRequest)(url, options);
      const fail = (err: Error) => {
        if (body && !Buffer.isBuffer(body)) body.destroy();
        reject(err);
      };
      // Registries answer some uploads (401, 413) before reading the body: the answer wins, and
      // the unfinished request's socket is closed once the answer is read (it cannot be reused).
      req.on('response', (res) => {
        if (!req.writableEnded) res.once('end', () => req.destroy());
        resolve(res);
      });
      req.on('error', fail);
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no data for ${this.options.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      if (body === undefined || Buffer.isBuffer(body)) {
        req.end(body);
        return;
      }
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    });
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

/** Reads a response to its end and discards it, so its keep-alive socket goes back to the pool. */
export function drain(res: HttpResponse): Promise<void> {
  // Not `complete`: a parsed body still has to be read for 'end', which is what frees the socket.
  if (res.readableEnded || res.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    res.once('end', resolve);
    res.once('close', resolve);
    res.once('error', () => resolve());
    res.resume();
  });
}
