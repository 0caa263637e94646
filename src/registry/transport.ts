import { readFileSync } from 'node:fs';
import { type Readable } from 'node:stream';
import { type SecureContext } from 'node:tls';
import { Agent, buildConnector, type Dispatcher, request } from 'undici';
import { type Credentials } from '../config';
import { ChainError } from '../errors';
import { type Logger } from '../log';
import { connectWithDeferredCa, deferredCaContext } from '../security/deferred-ca';
import { Authenticator } from './auth';
import { type PipeEndpoint } from './blob-pipe';
import { parseChallenge } from './challenge';
import { httpError } from './errors';
import { backoffMs, DEFAULT_RETRY, isConnectionError, isRetryableStatus, type RetryPolicy, sleep } from './retry';

export interface TransportOptions {
  baseUrl: string;
  name: string;
  credentials?: Credentials;
  insecure?: boolean;
  caFile?: string;
  timeoutMs: number;
  userAgent: string;
  retry?: RetryPolicy;
  logger?: Logger;
  /** Parallel connections per origin. */
  connections?: number;
}

export interface RegistryRequest {
  method: Dispatcher.HttpMethod;
  /** A path under the registry ("/v2/…") or an absolute URL the registry handed out (Location, Link). */
  path: string;
  /** Token scopes the request needs, e.g. repository:app:pull. */
  scopes: string[];
  /** What is being done, for error messages ("manifest app:latest"). */
  what: string;
  headers?: Record<string, string>;
  /**
   * A buffer; a factory, so a retry can start the stream afresh; or a stream that can be sent only
   * once (a request that would need it again fails with a retryable error instead).
   */
  body?: Buffer | Readable | (() => Readable);
  /** Statuses handed back to the caller; any other status becomes a typed error. */
  expect: number[];
  /** Overrides the policy's retries (0 for requests that must not be repeated, e.g. upload PATCH/PUT). */
  retries?: number;
}

export interface RegistryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** The URL that answered (after redirects), for resolving relative Location headers. */
  url: string;
  /** Discards the body so the connection can be reused. */
  dump(): Promise<void>;
}

const MAX_REDIRECTS = 5;
const MAX_AUTH_ROUNDS = 2;
const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * HTTP to one registry: connection pooling and TLS settings (undici Agent), timeouts, the auth
 * handshake, retries with jittered backoff on 429/5xx/connection errors, and redirects (blob
 * downloads may be redirected to storage; credentials are never sent to another origin).
 */
export class RegistryTransport {
  readonly baseUrl: URL;
  private readonly agent: Agent;
  private readonly auth: Authenticator;
  private readonly retry: RetryPolicy;
  private readonly ca: string | undefined;

  constructor(private readonly options: TransportOptions) {
    this.baseUrl = new URL(options.baseUrl);
    const ca = options.caFile ? readCa(options.caFile) : undefined;
    this.ca = ca;
    const connectTimeout = Math.min(options.timeoutMs, 10_000);
    this.agent = new Agent({
      connections: options.connections ?? 16,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connectTimeout,
      connect: connectWithDeferredCa({ buildConnector }, { rejectUnauthorized: options.insecure !== true, ...(ca ? { ca } : {}) }, connectTimeout),
    });
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.auth = new Authenticator(options.credentials, (url, headers) => this.fetchToken(url, headers));
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Sends with auth, retries and redirects; resolves with a status from `expect`, else throws a ChainError. */
  async send(req: RegistryRequest): Promise<RegistryResponse> {
    let scopes = req.scopes;
    let authRounds = 0;
    const retries = req.retries ?? this.retry.retries;
    let bodySent = false;
    for (let attempt = 0; ; attempt++) {
      let res: RegistryResponse;
      let authorization: string | undefined;
      try {
        authorization = await this.auth.header(scopes);
        if (isStream(req.body) && bodySent) throw replayRefused(req, this.options.name);
        bodySent = true;
        res = await this.follow(req, authorization);
      } catch (err) {
        if (ChainError.is(err) || !isConnectionError(err) || attempt >= retries) throw this.connectionFailure(err, req);
        await this.pause(attempt, req, `connection error: ${(err as Error).message}`);
        continue;
      }
      if (req.expect.includes(res.status)) return res;
      if (res.status === 401 && authRounds < MAX_AUTH_ROUNDS) {
        const retryScopes = this.auth.onUnauthorized(parseChallenge(header(res.headers, 'www-authenticate')), scopes, authorization !== undefined);
        await res.body.dump();
        if (retryScopes) {
          authRounds++;
          scopes = retryScopes;
          attempt--;
          continue;
        }
        throw httpError(401, req.what, this.options.name, '');
      }
      if (isRetryableStatus(res.status) && attempt < retries) {
        await res.body.dump();
        await this.pause(attempt, req, `HTTP ${res.status}`, header(res.headers, 'retry-after'));
        continue;
      }
      throw httpError(res.status, req.what, this.options.name, await readLimited(res.body, ERROR_BODY_LIMIT));
    }
  }

  /**
   * Where and how a request to `path` goes, for a transfer that opens its own connection
   * (blob-pipe.ts): the URL, the user agent and credentials for `scopes`, and the TLS settings.
   * Undefined for a URL on another origin: credentials never leave this registry.
   */
  async endpoint(path: string, scopes: string[]): Promise<PipeEndpoint | undefined> {
    const url = new URL(path, this.baseUrl);
    if (url.origin !== this.baseUrl.origin) return undefined;
    const authorization = await this.auth.header(scopes);
    return {
      url,
      headers: { 'user-agent': this.options.userAgent, ...(authorization ? { authorization } : {}) },
      rejectUnauthorized: this.options.insecure !== true,
      ...(this.ca ? { ca: this.ca } : url.protocol === 'https:' ? deferredTrust() : {}),
      timeoutMs: this.options.timeoutMs,
    };
  }

  /** Resolves a Location/Link value against the URL that sent it. */
  resolve(location: string, from: string): string {
    return new URL(location, from).toString();
  }

  private async follow(req: RegistryRequest, authorization: string | undefined): Promise<RegistryResponse> {
    let url = new URL(req.path, this.baseUrl);
    for (let hop = 0; ; hop++) {
      const sameOrigin = url.origin === this.baseUrl.origin;
      const headers: Record<string, string> = { 'user-agent': this.options.userAgent, ...req.headers };
      if (authorization && sameOrigin) headers.authorization = authorization;
      const body = hop === 0 ? (typeof req.body === 'function' ? req.body() : req.body) : undefined;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, { method: req.method, headers, body, dispatcher: this.agent });
      } catch (err) {
        if (body && !Buffer.isBuffer(body)) body.destroy();
        throw err;
      }
      // A refused upload leaves its body stream unread; end it so its source lets go too.
      if (body && !Buffer.isBuffer(body) && !req.expect.includes(res.statusCode)) body.destroy();
      const location = header(res.headers, 'location');
      const redirect = [301, 302, 303, 307, 308].includes(res.statusCode) && location !== undefined && (req.method === 'GET' || req.method === 'HEAD');
      if (!redirect || hop >= MAX_REDIRECTS) {
        const responseBody = res.body;
        return { status: res.statusCode, headers: res.headers, body: responseBody, url: url.toString(), dump: () => responseBody.dump() };
      }
      await res.body.dump();
      url = new URL(location, url);
    }
  }

  private async fetchToken(url: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await request(url, { method: 'GET', headers: { 'user-agent': this.options.userAgent, ...headers }, dispatcher: this.agent });
        if (isRetryableStatus(res.statusCode) && attempt < this.retry.retries) {
          await res.body.dump();
          await sleep(backoffMs(attempt, this.retry));
          continue;
        }
        return { status: res.statusCode, text: await readLimited(res.body, ERROR_BODY_LIMIT) };
      } catch (err) {
        if (!isConnectionError(err) || attempt >= this.retry.retries) throw this.connectionFailure(err, { what: 'token request' });
        await sleep(backoffMs(attempt, this.retry));
      }
    }
  }

  private async pause(attempt: number, req: RegistryRequest, reason: string, retryAfter?: string): Promise<void> {
    const ms = backoffMs(attempt, this.retry, retryAfter);
    this.options.logger?.debug({ registry: this.options.name, what: req.what, attempt: attempt + 1, delayMs: ms, reason }, 'registry request retried');
    await sleep(ms);
  }

  private connectionFailure(err: unknown, req: { what: string }): unknown {
    if (ChainError.is(err)) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (isConnectionError(err)) {
      return new ChainError('SERVICE_UNREACHABLE', `${this.options.name} (${this.baseUrl.origin}) could not be reached for ${req.what}: ${message}`, {
        cause: err,
      });
    }
    if (isTlsError(err)) {
      return new ChainError(
        'SERVICE_UNREACHABLE',
        `TLS with ${this.options.name} (${this.baseUrl.origin}) failed for ${req.what}: ${message}; set caFile to the registry's CA bundle (or insecure for a test registry)`,
        { cause: err, retryable: false },
      );
    }
    return new ChainError('REGISTRY_ERROR', `${req.what} on ${this.options.name} failed: ${message}`, { cause: err });
  }
}

const TLS_CODES =
  /^(ERR_TLS_|ERR_SSL_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT(_LOCALLY)?)$|CERT_)/;

function isTlsError(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_CODES.test(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

export function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Reads at most `limit` bytes of a body as text and discards the rest. */
export async function readLimited(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    if (size < limit) chunks.push(buf.subarray(0, limit - size));
    size += buf.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isStream(body: RegistryRequest['body']): body is Readable {
  return body !== undefined && !Buffer.isBuffer(body) && typeof body !== 'function';
}

/** A streamed body cannot be sent twice (auth round, retry): the caller starts over with a new stream. */
function replayRefused(req: RegistryRequest, registry: string): ChainError {
  return new ChainError('TRANSIENT', `${req.what} on ${registry} must be sent again with a fresh body`, { retryable: true });
}

/** The deferred NODE_EXTRA_CA_CERTS's secure context, when there is one (security/deferred-ca.ts). */
function deferredTrust(): { secureContext?: SecureContext } {
  const secureContext = deferredCaContext();
  return secureContext ? { secureContext } : {};
}

function readCa(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ChainError('CONFIG_INVALID', `CA bundle ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
}
