import { Readable } from 'node:stream';
import { ChainError } from '../errors';
import { header, type RegistryTransport } from './transport';

/** Upload sessions: POST to open, PATCH chunks, PUT ?digest= to commit (distribution spec, "push"). */
export interface UploadTarget {
  transport: RegistryTransport;
  repo: string;
  digest: string;
  scopes: string[];
}

const what = (t: UploadTarget) => `blob upload ${t.repo}@${t.digest}`;

/** Opens an upload session; returns its absolute URL. */
export async function openUpload(t: UploadTarget): Promise<string> {
  const res = await t.transport.send({
    method: 'POST',
    path: `/v2/${t.repo}/blobs/uploads/`,
    scopes: t.scopes,
    what: what(t),
    expect: [202],
    headers: { 'content-length': '0' },
  });
  await res.dump();
  return sessionUrl(t, res.headers, res.url);
}

/**
 * One PUT carrying the whole blob (the fastest path when the size is known: one request instead of
 * PATCH and PUT). A stream is sent once; a failed send makes the caller start over.
 */
export async function putMonolithic(t: UploadTarget, location: string, body: Buffer | Readable, size: number | undefined): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (size !== undefined) headers['content-length'] = String(size);
  const res = await t.transport.send({
    method: 'PUT',
    path: withDigest(location, t.digest),
    scopes: t.scopes,
    what: what(t),
    expect: [201],
    headers,
    body,
    retries: 0,
  });
  await res.dump();
}

/** PATCHes `chunkSize` pieces in order with Content-Range, then commits with an empty PUT. */
export async function putChunked(t: UploadTarget, location: string, data: Buffer | Readable, chunkSize: number): Promise<void> {
  let url = location;
  let offset = 0;
  const send = async (chunk: Buffer) => {
    const res = await t.transport.send({
      method: 'PATCH',
      path: url,
      scopes: t.scopes,
      what: what(t),
      expect: [202],
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(chunk.length),
        'content-range': `${offset}-${offset + chunk.length - 1}`,
      },
      body: chunk,
      retries: 0,
    });
    await res.dump();
    url = sessionUrl(t, res.headers, res.url);
    offset += chunk.length;
  };
  for await (const chunk of rechunk(Buffer.isBuffer(data) ? Readable.from([data]) : data, chunkSize)) await send(chunk);
  const res = await t.transport.send({
    method: 'PUT',
    path: withDigest(url, t.digest),
    scopes: t.scopes,
    what: what(t),
    expect: [201],
    headers: { 'content-length': '0' },
    retries: 0,
  });
  await res.dump();
}

/** Abandons a session (best effort: the registry purges stale uploads anyway). */
export async function cancelUpload(t: UploadTarget, location: string): Promise<void> {
  try {
    const res = await t.transport.send({ method: 'DELETE', path: location, scopes: t.scopes, what: what(t), expect: [204, 404], retries: 0 });
    await res.dump();
  } catch {
    // nothing to clean up that the registry will not purge
  }
}

/** Cross-repository mount: 201 when the registry linked the blob, false when it opened an upload instead. */
export async function tryMount(t: UploadTarget, fromRepo: string): Promise<boolean> {
  const path = `/v2/${t.repo}/blobs/uploads/?mount=${encodeURIComponent(t.digest)}&from=${encodeURIComponent(fromRepo)}`;
  const res = await t.transport.send({
    method: 'POST',
    path,
    scopes: t.scopes,
    what: `mount of ${t.digest} from ${fromRepo} into ${t.repo}`,
    expect: [201, 202],
    headers: { 'content-length': '0' },
  });
  await res.dump();
  if (res.status === 201) return true;
  await cancelUpload(t, sessionUrl(t, res.headers, res.url));
  return false;
}

function sessionUrl(t: UploadTarget, headers: Record<string, string | string[] | undefined>, from: string): string {
  const location = header(headers, 'location');
  if (!location) throw new ChainError('REGISTRY_ERROR', `${what(t)}: the registry did not return an upload location`);
  return t.transport.resolve(location, from);
}

/** The upload URL with the digest that commits it. */
export function withDigest(location: string, digest: string): string {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url.toString();
}

/** Re-slices a byte stream into pieces of exactly `size` bytes (the last may be shorter). */
async function* rechunk(source: AsyncIterable<unknown>, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const piece of source) {
    let buf = Buffer.isBuffer(piece) ? piece : Buffer.from(piece as Uint8Array);
    while (pendingBytes + buf.length >= size) {
      const take = size - pendingBytes;
      pending.push(buf.subarray(0, take));
      yield Buffer.concat(pending, size);
      buf = buf.subarray(take);
      pending = [];
      pendingBytes = 0;
    }
    if (buf.length > 0) {
      pending.push(buf);
      pendingBytes += buf.length;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}
