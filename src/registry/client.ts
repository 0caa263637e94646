import { pipeline, type Readable } from 'node:stream';
import { z } from 'zod';
import { type Credentials, type RegistryConfig } from '../config';
import { ChainError } from '../errors';
import { type Logger } from '../log';
import { pipeBlob } from './blob-pipe';
import { cancelUpload, openUpload, putChunked, putMonolithic, tryMount, type UploadTarget, withDigest } from './blob-upload';
import { readBody } from './body';
import { CATALOG_SCOPE, pullScope, pushScope } from './challenge';
import { assertDigest, DigestVerifier, digestOf, digestMismatch, isDigest, verifyDigest } from './digest';
import { type Descriptor, isManifestList, type Manifest, ociIndexSchema, parseManifest } from './manifest';
import { bareMediaType, isManifestMediaType, MANIFEST_MEDIA_TYPES, MEDIA_TYPES } from './media-types';
import { assertRepository, fallbackReferrersTag, isTag } from './reference';
import { backoffMs, DEFAULT_RETRY, type RetryPolicy, sleep } from './retry';
import { header, RegistryTransport, type RegistryResponse } from './transport';
import { DEFAULT_USER_AGENT } from './user-agent';

export interface RegistryClientOptions {
  name?: string;
  /** Base URL: http://127.0.0.1:5000 or https://registry.example.com */
  url: string;
  credentials?: Credentials;
  /** Skip TLS certificate verification. */
  insecure?: boolean;
  /** PEM bundle of CAs trusted for this registry. */
  caFile?: string;
  /** Connect, header and idle-body timeout of every request. */
  timeoutMs?: number;
  userAgent?: string;
  logger?: Logger;
  retry?: RetryPolicy;
  /** Blobs larger than this (or of unknown size) are uploaded in PATCH chunks of this size. */
  chunkSizeBytes?: number;
  /** Largest manifest accepted (default 4 MiB, the limit common registries enforce). */
  maxManifestBytes?: number;
  /** Entries asked for per page of tag lists and the catalog (default 1000). */
  pageSize?: number;
}

export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  manifest: Manifest;
}

const DEFAULT_MAX_MANIFEST = 4 * 1024 * 1024;
const DEFAULT_CHUNK = 64 * 1024 * 1024;
/**
 * Blobs from this size on are copied between registries over connections of their own (blob-pipe.ts);
 * below it the HTTP client's pooled connections cost less than opening two.
 */
const PIPE_MIN_BYTES = 1024 * 1024;
/** A 404 this soon after our own push is the registry catching up (eventual consistency), not absence. */
const PUSH_SETTLE_MS = 30_000;
/** How long a registry without the referrers API is not asked for it again (it may be upgraded). */
const REFERRERS_API_RECHECK_MS = 10 * 60_000;
const ACCEPT_MANIFESTS = MANIFEST_MEDIA_TYPES.join(', ');
const DEFAULT_PAGE = 1000;

const tagListSchema = z.looseObject({ name: z.string(), tags: z.array(z.string()).nullable() });
const catalogSchema = z.looseObject({ repositories: z.array(z.string()).nullable() });

/** An OCI distribution client for one registry. All methods verify what they read against its digest. */
export class RegistryClient {
  readonly name: string;
  /** host[:port], as written in image references. */
  readonly host: string;
  private readonly transport: RegistryTransport;
  private readonly recentPushes = new Map<string, number>();
  /** When the registry last answered that it has no referrers API; asked again after REFERRERS_API_RECHECK_MS. */
  private referrersApiAbsentAt: number | undefined;
  private readonly retry: RetryPolicy;
  private readonly chunkSize: number;
  private readonly maxManifestBytes: number;
  private readonly pageSize: number;
  private readonly logger: Logger | undefined;

  constructor(opts: RegistryClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch (err) {
      throw new ChainError('CONFIG_INVALID', `registry URL "${opts.url}" is not a URL`, { cause: err });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ChainError('CONFIG_INVALID', `registry URL "${opts.url}" must be http or https`);
    this.host = url.host;
    this.name = opts.name ?? url.host;
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.chunkSize = opts.chunkSizeBytes ?? DEFAULT_CHUNK;
    this.maxManifestBytes = opts.maxManifestBytes ?? DEFAULT_MAX_MANIFEST;
    this.pageSize = opts.pageSize ?? DEFAULT_PAGE;
    this.logger = opts.logger;
    this.transport = new RegistryTransport({
      baseUrl: url.origin,
      name: this.name,
      timeoutMs: opts.timeoutMs ?? 30_000,
      userAgent: opts.userAgent ?? DEFAULT_USER_AGENT,
      retry: this.retry,
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      ...(opts.insecure !== undefined ? { insecure: opts.insecure } : {}),
      ...(opts.caFile ? { caFile: opts.caFile } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
  }

  static fromConfig(reg: RegistryConfig, opts: { userAgent?: string; logger?: Logger; retry?: RetryPolicy } = {}): RegistryClient {
    return new RegistryClient({
      name: reg.name,
      url: reg.url,
      insecure: reg.insecure,
      timeoutMs: reg.timeoutMs,
      ...(reg.credentials ? { credentials: reg.credentials } : {}),
      ...(reg.caFile ? { caFile: reg.caFile } : {}),
      ...opts,
    });
  }

  /** Closes pooled connections. */
  async close(): Promise<void> {
    await this.transport.close();
  }

  /** API version check: GET /v2/ must answer 200 (after auth) with the registry/2.0 API header or none. */
  async ping(): Promise<void> {
    const res = await this.transport.send({ method: 'GET', path: '/v2/', scopes: [], what: 'API version check', expect: [200] });
    await res.dump();
    const api = header(res.headers, 'docker-distribution-api-version');
    if (api !== undefined && !api.split(/\s+/).includes('registry/2.0')) {
      throw new ChainError('REGISTRY_ERROR', `${this.name} speaks distribution API "${api}", not registry/2.0`, { retryable: false });
    }
  }

  async getManifest(repo: string, reference: string): Promise<FetchedManifest> {
    const what = this.manifestWhat(repo, reference);
    const res = await this.manifestRequest('GET', repo, reference);
    const bytes = await readBody(res, this.maxManifestBytes, what);
    const expected = isDigest(reference) ? reference : header(res.headers, 'docker-content-digest');
    const digest = expected !== undefined && isDigest(expected) ? expected : digestOf(bytes);
    verifyDigest(bytes, digest, what);
    const { mediaType, manifest } = parseManifest(bytes, header(res.headers, 'content-type'));
    return { digest, mediaType, bytes, manifest };
  }

  /** Digest, media type and size of a manifest, or undefined when the registry does not have it. */
  async headManifest(repo: string, reference: string): Promise<{ digest: string; mediaType: string; size: number } | undefined> {
    const res = await this.manifestRequest('HEAD', repo, reference, true);
    await res.dump();
    if (res.status === 404) return undefined;
    const digest = header(res.headers, 'docker-content-digest');
    if (!digest || !isDigest(digest)) {
      // Without the header only a GET tells the digest.
      const fetched = await this.getManifest(repo, reference);
      return { digest: fetched.digest, mediaType: fetched.mediaType, size: fetched.bytes.length };
    }
    if (isDigest(reference) && digest !== reference) throw digestMismatch(this.manifestWhat(repo, reference), reference, digest);
    return { digest, mediaType: bareMediaType(header(res.headers, 'content-type')), size: Number(header(res.headers, 'content-length') ?? 0) };
  }

  /** Pushes manifest bytes unchanged under a tag or their digest; returns the digest. */
  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    this.checkReference(repo, reference);
    if (!isManifestMediaType(mediaType))
      throw new ChainError('UNSUPPORTED_MEDIA_TYPE', `cannot push manifest of media type "${mediaType}"`, { details: { mediaType } });
    const parsed = parseManifest(bytes, mediaType);
    if (parsed.mediaType !== mediaType) throw new ChainError('BAD_INPUT', `manifest declares media type ${parsed.mediaType} but is pushed as ${mediaType}`);
    const digest = digestOf(bytes);
    if (isDigest(reference) && reference !== digest) verifyDigest(bytes, reference, this.manifestWhat(repo, reference));
    const res = await this.transport.send({
      method: 'PUT',
      path: `/v2/${repo}/manifests/${reference}`,
      scopes: [pushScope(repo)],
      what: this.manifestWhat(repo, reference),
      expect: [201],
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: bytes,
    });
    await res.dump();
    const answered = header(res.headers, 'docker-content-digest');
    if (answered && isDigest(answered) && answered !== digest)
      throw digestMismatch(`${this.name} stored ${this.manifestWhat(repo, reference)}`, digest, answered);
    const now = Date.now();
    this.recentPushes.set(`${repo}@${reference}`, now);
    this.recentPushes.set(`${repo}@${digest}`, now);
    return digest;
  }

  async deleteManifest(repo: string, digest: string): Promise<void> {
    assertRepository(repo);
    assertDigest(digest);
    const res = await this.transport.send({
      method: 'DELETE',
      path: `/v2/${repo}/manifests/${digest}`,
      scopes: [pushScope(repo)],
      what: this.manifestWhat(repo, digest),
      expect: [202],
    });
    await res.dump();
  }

  async hasBlob(repo: string, digest: string): Promise<boolean> {
    return (await this.blobSize(repo, digest)) !== undefined;
  }

  /** Size of a blob the registry has, or undefined. */
  async blobSize(repo: string, digest: string): Promise<number | undefined> {
    assertRepository(repo);
    assertDigest(digest);
    const res = await this.transport.send({
      method: 'HEAD',
      path: `/v2/${repo}/blobs/${digest}`,
      scopes: [pullScope(repo)],
      what: this.blobWhat(repo, digest),
      expect: [200, 404],
    });
    await res.dump();
    return res.status === 200 ? Number(header(res.headers, 'content-length') ?? 0) : undefined;
  }

  async getBlob(repo: string, digest: string, opts: { maxBytes?: number } = {}): Promise<Buffer> {
    const res = await this.blobRequest(repo, digest);
    const bytes = await readBody(res, opts.maxBytes ?? Number.MAX_SAFE_INTEGER, this.blobWhat(repo, digest));
    verifyDigest(bytes, digest, this.blobWhat(repo, digest));
    return bytes;
  }

  /**
   * The blob as a stream that fails with DIGEST_MISMATCH at its end when the content is not
   * `digest` (its last chunk is held back until the digest matched). `onBytes` hears the bytes read.
   */
  async blobStream(repo: string, digest: string, opts: { maxBytes?: number; onBytes?: (bytes: number) => void } = {}): Promise<Readable> {
    const res = await this.blobRequest(repo, digest);
    const verifier = new DigestVerifier(digest, this.blobWhat(repo, digest), opts.maxBytes, opts.onBytes);
    // pipeline, not pipe: a consumer that gives up destroys the response too, freeing its socket.
    pipeline(res.body, verifier, () => undefined);
    return verifier;
  }

  /**
   * Uploads a blob unless the repository already has it. `data` is a buffer or a factory of streams
   * (called again when the upload is retried; it may resolve asynchronously, and is started while
   * the upload session opens so the two round trips overlap). Known sizes up to the chunk size go in
   * one PUT; larger or unknown ones in PATCH chunks. The registry verifies the digest when committing.
   */
  async uploadBlob(
    repo: string,
    digest: string,
    data: Buffer | (() => NodeJS.ReadableStream | Promise<Readable>),
    size?: number,
    opts: { chunkSizeBytes?: number; /** The caller just checked; skip the HEAD. */ assumeAbsent?: boolean } = {},
  ): Promise<void> {
    assertRepository(repo);
    assertDigest(digest);
    if (opts.assumeAbsent !== true && (await this.hasBlob(repo, digest))) return;
    const chunkSize = opts.chunkSizeBytes ?? this.chunkSize;
    const length = Buffer.isBuffer(data) ? data.length : size;
    const target: UploadTarget = { transport: this.transport, repo, digest, scopes: [pushScope(repo)] };
    for (let attempt = 0; ; attempt++) {
      const opened = Buffer.isBuffer(data) ? undefined : openStream(data);
      let location: string;
      try {
        location = await openUpload(target);
      } catch (err) {
        void opened?.then(
          (stream) => stream.destroy(),
          () => undefined,
        );
        throw err;
      }
      let body: Buffer | Readable | undefined;
      try {
        body = Buffer.isBuffer(data) ? data : await (opened as Promise<Readable>);
        if (length !== undefined && length <= chunkSize) await putMonolithic(target, location, body, length);
        else await putChunked(target, location, body, chunkSize);
        return;
      } catch (err) {
        if (body && !Buffer.isBuffer(body)) body.destroy();
        await cancelUpload(target, location);
        if (!retryableUploadError(err) || attempt >= this.retry.retries) throw err;
        await sleep(backoffMs(attempt, this.retry));
      }
    }
  }

  /**
   * Copies a blob this registry lacks from `source` by piping the source's response straight into
   * one upload PUT (blob-pipe.ts: pooled buffers, every byte hashed, the last piece held back until
   * the digest matched). True when copied; false when the blob is small or above the chunk size, or the pipe met something it
   * leaves to the HTTP client (a redirect, a challenge, another framing, an error status, a broken
   * connection): nothing was committed then, and the caller copies through uploadBlob. A digest
   * mismatch and cancellation are final.
   */
  async pipeBlobFrom(
    source: RegistryClient,
    sourceRepo: string,
    repo: string,
    digest: string,
    size: number,
    opts: { onBytes?: (bytes: number) => void; abort?: { signal: AbortSignal; error: () => Error } } = {},
  ): Promise<boolean> {
    assertRepository(repo);
    assertRepository(sourceRepo);
    assertDigest(digest);
    // One PUT carries the blob: larger ones go in PATCH chunks (registries behind proxies limit request sizes).
    if (size < PIPE_MIN_BYTES || size > this.chunkSize) return false;
    const from = await source.transport.endpoint(`/v2/${sourceRepo}/blobs/${digest}`, [pullScope(sourceRepo)]);
    if (!from) return false;
    const target: UploadTarget = { transport: this.transport, repo, digest, scopes: [pushScope(repo)] };
    // The upload session opens while the source's GET is under way.
    const location = openUpload(target);
    const to = location.then((url) => this.transport.endpoint(withDigest(url, digest), target.scopes));
    let reason: string;
    try {
      const outcome = await pipeBlob({ from, to, digest, size, what: this.blobWhat(sourceRepo, digest), ...opts });
      if (outcome.copied) return true;
      reason = outcome.reason;
    } catch (err) {
      await location.then((url) => cancelUpload(target, url)).catch(() => undefined);
      throw err;
    }
    const url = await location.catch(() => undefined);
    if (url !== undefined) await cancelUpload(target, url);
    this.logger?.debug({ registry: this.name, digest, reason }, 'blob copied through the HTTP client instead');
    return false;
  }

  /** Links a blob of `fromRepo` into `repo` without copying bytes; false when the registry declined. */
  async mountBlob(repo: string, digest: string, fromRepo: string): Promise<boolean> {
    assertRepository(repo);
    assertRepository(fromRepo);
    assertDigest(digest);
    return tryMount({ transport: this.transport, repo, digest, scopes: [pushScope(repo), pullScope(fromRepo)] }, fromRepo);
  }

  async listTags(repo: string): Promise<string[]> {
    assertRepository(repo);
    const tags: string[] = [];
    await this.paginate(`/v2/${repo}/tags/list?n=${this.pageSize}`, [pullScope(repo)], `tags of ${repo}`, (json) => {
      tags.push(...(parseOrThrow(tagListSchema, json, `tag list of ${repo}`).tags ?? []));
    });
    return tags;
  }

  async catalog(): Promise<string[]> {
    const repositories: string[] = [];
    await this.paginate(`/v2/_catalog?n=${this.pageSize}`, [CATALOG_SCOPE], 'catalog', (json) => {
      repositories.push(...(parseOrThrow(catalogSchema, json, 'catalog').repositories ?? []));
    });
    return repositories;
  }

  /**
   * Manifests whose subject is `digest`: from the OCI referrers API, or, where the registry has none
   * (404), from the index under the `sha256-<hex>` fallback tag.
   */
  async referrers(repo: string, digest: string, artifactType?: string): Promise<Descriptor[]> {
    assertRepository(repo);
    assertDigest(digest);
    if (this.referrersApiAbsentAt !== undefined && Date.now() - this.referrersApiAbsentAt < REFERRERS_API_RECHECK_MS) {
      return filterArtifactType(await this.fallbackReferrers(repo, digest), artifactType);
    }
    const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    const first = await this.transport.send({
      method: 'GET',
      path: `/v2/${repo}/referrers/${digest}${query}`,
      scopes: [pullScope(repo)],
      what: `referrers of ${repo}@${digest}`,
      expect: [200, 404],
      headers: { accept: MEDIA_TYPES.ociIndex },
    });
    if (first.status === 200 && bareMediaType(header(first.headers, 'content-type')) === MEDIA_TYPES.ociIndex) {
      const found: Descriptor[] = [];
      await this.paginate(first, [pullScope(repo)], `referrers of ${repo}@${digest}`, (json) => {
        found.push(...parseOrThrow(ociIndexSchema, json, `referrers of ${repo}@${digest}`).manifests);
      });
      return filterArtifactType(found, artifactType);
    }
    await first.dump();
    // A registry with the API answers every digest, known or not, with an index: a 404 means none.
    if (first.status === 404) this.referrersApiAbsentAt = Date.now();
    return filterArtifactType(await this.fallbackReferrers(repo, digest), artifactType);
  }

  /** The descriptors under the fallback tag of `digest`; [] when the tag does not exist. */
  async fallbackReferrers(repo: string, digest: string): Promise<Descriptor[]> {
    const tag = fallbackReferrersTag(digest);
    if (!(await this.headManifest(repo, tag))) return [];
    const { manifest } = await this.getManifest(repo, tag);
    if (!isManifestList(manifest)) throw new ChainError('REGISTRY_ERROR', `${repo}:${tag} is not an image index, so it cannot list referrers`);
    return manifest.manifests;
  }

  private async manifestRequest(method: 'GET' | 'HEAD', repo: string, reference: string, allowMissing = false): Promise<RegistryResponse> {
    this.checkReference(repo, reference);
    const pushedAt = this.recentPushes.get(`${repo}@${reference}`);
    for (let attempt = 0; ; attempt++) {
      const res = await this.transport.send({
        method,
        path: `/v2/${repo}/manifests/${reference}`,
        scopes: [pullScope(repo)],
        what: this.manifestWhat(repo, reference),
        expect: [200, 404],
        headers: { accept: ACCEPT_MANIFESTS },
      });
      if (res.status === 200) return res;
      const settling = pushedAt !== undefined && Date.now() - pushedAt < PUSH_SETTLE_MS && attempt < this.retry.retries;
      if (settling) {
        await res.dump();
        await sleep(backoffMs(attempt, this.retry));
        continue;
      }
      if (allowMissing) return res;
      await res.dump();
      throw new ChainError('NOT_FOUND', `${this.manifestWhat(repo, reference)} not found on ${this.name}`, {
        details: { registry: this.name, repo, reference },
      });
    }
  }

  private async blobRequest(repo: string, digest: string): Promise<RegistryResponse> {
    assertRepository(repo);
    assertDigest(digest);
    return this.transport.send({
      method: 'GET',
      path: `/v2/${repo}/blobs/${digest}`,
      scopes: [pullScope(repo)],
      what: this.blobWhat(repo, digest),
      expect: [200],
    });
  }

  /** GETs a JSON list and every page its `Link: <…>; rel="next"` headers point to. */
  private async paginate(start: string | RegistryResponse, scopes: string[], what: string, onPage: (json: unknown) => void): Promise<void> {
    let res = typeof start === 'string' ? await this.transport.send({ method: 'GET', path: start, scopes, what, expect: [200] }) : start;
    for (let page = 0; page < 10_000; page++) {
      const text = (await readBody(res, 16 * 1024 * 1024, what)).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new ChainError('REGISTRY_ERROR', `${this.name} answered ${what} with invalid JSON`, { cause: err });
      }
      onPage(json);
      const next = nextLink(header(res.headers, 'link'));
      if (!next) return;
      res = await this.transport.send({ method: 'GET', path: this.transport.resolve(next, res.url), scopes, what, expect: [200] });
    }
  }

  private checkReference(repo: string, reference: string): void {
    assertRepository(repo);
    if (!isDigest(reference) && !isTag(reference)) throw new ChainError('BAD_INPUT', `"${reference}" is neither a tag nor a digest`);
  }

  private manifestWhat(repo: string, reference: string): string {
    return `manifest ${repo}${isDigest(reference) ? '@' : ':'}${reference}`;
  }

  private blobWhat(repo: string, digest: string): string {
    return `blob ${repo}@${digest}`;
  }
}

/** `<url>; rel="next"` of an RFC 8288 Link header. */
export function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (match && /\brel\s*=\s*"?next"?/i.test(match[2]!)) return match[1];
  }
  return undefined;
}

function filterArtifactType(descriptors: Descriptor[], artifactType: string | undefined): Descriptor[] {
  return artifactType ? descriptors.filter((d) => d.artifactType === artifactType) : descriptors;
}

function parseOrThrow<T>(schema: z.ZodType<T>, json: unknown, what: string): T {
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ChainError('REGISTRY_ERROR', `${what} is malformed: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  return parsed.data;
}

/** Calls a body factory, turning a synchronous throw into a rejection. */
async function openStream(factory: () => NodeJS.ReadableStream | Promise<Readable>): Promise<Readable> {
  return (await factory()) as Readable;
}

function retryableUploadError(err: unknown): boolean {
  if (ChainError.is(err)) return err.retryable && err.code !== 'UNAUTHORIZED' && err.code !== 'DENIED' && err.code !== 'NOT_FOUND';
  return true;
}
