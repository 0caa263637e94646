import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { after, it } from 'node:test';
import { ChainError } from '../../../src/errors';
import { digestOf } from '../../../src/registry';
import { type PipeEndpoint, pipeBlob, type PipeRequest } from '../../../src/registry/blob-pipe';
import { testDataDir } from '../../support/services';
import { selfSignedLoopbackCertificate } from '../../support/tls-certs';

async function listen(server: ReturnType<typeof createServer> | ReturnType<typeof createTcpServer> | ReturnType<typeof createTlsServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const serve = (handler: (req: IncomingMessage, res: ServerResponse) => void) => listen(createServer(handler));

/** A source that writes raw bytes on every connection (after reading the request head). */
const rawSource = (reply: (socket: Socket) => void) =>
  listen(
    createTcpServer((socket) => {
      let seen = '';
      socket.on('data', (d: Buffer) => {
        seen += d.toString('latin1');
        if (seen.includes('\r\n\r\n')) reply(socket);
      });
      socket.on('error', () => undefined);
    }),
  );

interface Received {
  requests: number;
  bytes: number;
  headers?: IncomingMessage['headers'];
  body?: Buffer;
}

/** An upload endpoint: stores what arrives, answers 201 with the digest of a complete body (or `status`). */
async function target(status = 201): Promise<{ url: string; received: Received }> {
  const received: Received = { requests: 0, bytes: 0 };
  const url = await serve((req, res) => {
    received.requests++;
    received.headers = req.headers;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      chunks.push(c);
      received.bytes += c.length;
    });
    req.on('end', () => {
      received.body = Buffer.concat(chunks);
      res.writeHead(status, { 'docker-content-digest': digestOf(received.body) }).end();
    });
    req.on('error', () => undefined);
  });
  return { url, received };
}

const endpoint = (url: string, headers: Record<string, string> = {}): PipeEndpoint => ({
  url: new URL(url),
  headers: { 'user-agent': 'pipe-test', ...headers },
  rejectUnauthorized: true,
  timeoutMs: 5000,
});

const request = (from: string, to: string, blob: Buffer, extra: Partial<PipeRequest> = {}): PipeRequest => ({
  from: endpoint(`${from}/v2/app/blobs/${digestOf(blob)}`),
  to: Promise.resolve(endpoint(`${to}/upload?digest=${digestOf(blob)}`, { authorization: 'Bearer t' })),
  digest: digestOf(blob),
  size: blob.length,
  what: `blob app@${digestOf(blob)}`,
  ...extra,
});

/** Serves `blob` with Content-Length, written in pieces of `piece` bytes. */
const blobSource = (blob: Buffer, piece = 7001, body = blob) =>
  serve((_req, res) => {
    res.writeHead(200, { 'content-length': String(blob.length), 'content-type': 'application/octet-stream' });
    for (let i = 0; i < body.length; i += piece) res.write(body.subarray(i, i + piece));
    res.end();
  });

void it('copies a blob byte for byte into one PUT with its Content-Length and credentials, reporting progress', async () => {
  const blob = randomBytes(3 * 1024 * 1024 + 11);
  const source = await blobSource(blob);
  const { url, received } = await target();
  let seen = 0;
  const outcome = await pipeBlob(request(source, url, blob, { onBytes: (n) => (seen = n) }));
  assert.deepEqual(outcome, { copied: true });
  assert.equal(received.requests, 1);
  assert.ok(received.body?.equals(blob));
  assert.equal(received.headers?.['content-length'], String(blob.length));
  assert.equal(received.headers?.authorization, 'Bearer t');
  assert.equal(received.headers?.['user-agent'], 'pipe-test');
  assert.equal(seen, blob.length);
});

void it('copies many blobs at once, each intact (the read buffers are reused between and within transfers)', async () => {
  const blobs = Array.from({ length: 6 }, (_, i) => randomBytes(1024 * 1024 + i * 4099));
  const sources = await Promise.all(blobs.map((b, i) => blobSource(b, 1000 + i * 3000)));
  const targets = await Promise.all(blobs.map(() => target()));
  const outcomes = await Promise.all(blobs.map((b, i) => pipeBlob(request(sources[i] as string, targets[i]?.url as string, b))));
  for (const [i, outcome] of outcomes.entries()) {
    assert.deepEqual(outcome, { copied: true });
    assert.ok(targets[i]?.received.body?.equals(blobs[i] as Buffer), `blob ${i}`);
  }
});

void it('fails closed on corrupt bytes: DIGEST_MISMATCH, and the upload never receives the whole declared length', async () => {
  const blob = randomBytes(2 * 1024 * 1024);
  const corrupt = Buffer.from(blob);
  corrupt[corrupt.length >> 1] = (corrupt[corrupt.length >> 1] ?? 0) ^ 0xff;
  const source = await blobSource(blob, 65536, corrupt);
  const { url, received } = await target();
  await assert.rejects(pipeBlob(request(source, url, blob)), (err) => ChainError.is(err, 'DIGEST_MISMATCH') && err.message.includes(digestOf(blob)));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(received.bytes < blob.length, `target got ${received.bytes} of ${blob.length} bytes`);
  assert.equal(received.body, undefined, 'the upload request never completed');
});

void it('fails closed when the source sends the declared length of other bytes in one piece', async () => {
  const blob = randomBytes(1024 * 1024);
  const source = await blobSource(blob, blob.length, randomBytes(blob.length));
  const { url, received } = await target();
  await assert.rejects(pipeBlob(request(source, url, blob)), (err) => ChainError.is(err, 'DIGEST_MISMATCH'));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(received.body, undefined);
});

void it('leaves to the HTTP client, without sending the blob anywhere, whatever it does not speak', async () => {
  const blob = randomBytes(1024 * 1024);
  const sources: Array<[string, string]> = [
    ['redirect', await serve((_req, res) => res.writeHead(307, { location: 'http://storage.example/blob' }).end())],
    ['challenge', await serve((_req, res) => res.writeHead(401, { 'www-authenticate': 'Bearer realm="x"' }).end())],
    ['chunked', await serve((_req, res) => res.writeHead(200).end(blob))],
    ['other length', await serve((_req, res) => res.writeHead(200, { 'content-length': String(blob.length - 1) }).end(blob.subarray(1)))],
    ['gzip', await serve((_req, res) => res.writeHead(200, { 'content-length': String(blob.length), 'content-encoding': 'gzip' }).end(blob))],
    ['obs-fold', await rawSource((s) => s.end(`HTTP/1.1 200 OK\r\nContent-Length: ${blob.length}\r\nX-A: a\r\n b\r\n\r\n`))],
    ['not HTTP', await rawSource((s) => s.end('SSH-2.0-OpenSSH\r\n\r\n'))],
    [
      'closed early',
      await rawSource((s) => s.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${blob.length}\r\n\r\n`), blob.subarray(0, 1000)]))),
    ],
    ['reset', await rawSource((s) => s.resetAndDestroy())],
  ];
  for (const [name, source] of sources) {
    const { url, received } = await target();
    const outcome = await pipeBlob(request(source, url, blob));
    assert.equal(outcome.copied, false, name);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(received.body, undefined, `${name}: no upload completed`);
  }
});

void it('leaves to the HTTP client a target that refuses, answers early, or lies about the stored digest', async () => {
  const blob = randomBytes(1024 * 1024);
  const source = await blobSource(blob);
  for (const status of [400, 401, 413, 500]) {
    const { url } = await target(status);
    const outcome = await pipeBlob(request(source, url, blob));
    assert.equal(outcome.copied, false, String(status));
  }
  const early = await serve((req, res) => {
    req.on('error', () => undefined);
    res.writeHead(201).end();
  });
  assert.equal((await pipeBlob(request(source, early, blob))).copied, false);
  const liar = await serve((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(201, { 'docker-content-digest': digestOf(Buffer.from('other')) }).end());
  });
  await assert.rejects(pipeBlob(request(source, liar, blob)), (err) => ChainError.is(err, 'DIGEST_MISMATCH'));
  const elsewhere = await pipeBlob({ ...request(source, early, blob), to: Promise.resolve(undefined) });
  assert.equal(elsewhere.copied, false);
});

void it('skips interim 100 Continue answers before the final one', async () => {
  const blob = randomBytes(1024 * 1024);
  const source = await blobSource(blob);
  const hash = createHash('sha256');
  let length = 0;
  const url = await rawSource((socket) => {
    socket.removeAllListeners('data');
    socket.on('data', (d: Buffer) => {
      hash.update(d);
      length += d.length;
      if (length === blob.length)
        socket.end(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nDocker-Content-Digest: sha256:${hash.digest('hex')}\r\n\r\n`);
    });
  });
  assert.deepEqual(await pipeBlob(request(source, url, blob)), { copied: true });
});

void it('stops at once when cancelled, with the error the caller gave', async () => {
  const blob = randomBytes(4 * 1024 * 1024);
  // A source that sends the head and a little, then stalls.
  const source = await rawSource((s) =>
    s.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${blob.length}\r\n\r\n`), blob.subarray(0, 5000)])),
  );
  const { url, received } = await target();
  const controller = new AbortController();
  const cancelled = new ChainError('TRANSIENT', 'cancelled', { retryable: false });
  setTimeout(() => controller.abort(), 100);
  await assert.rejects(pipeBlob(request(source, url, blob, { abort: { signal: controller.signal, error: () => cancelled } })), (err) => err === cancelled);
  assert.equal(received.body, undefined);
});

void it('pipes over TLS, trusting the CA bundle it is given, and leaves an untrusted certificate to the HTTP client', async () => {
  const dir = testDataDir();
  const { keyFile: key, certFile: cert } = selfSignedLoopbackCertificate(dir, 'pipe');
  const tls = { key: readFileSync(key), cert: readFileSync(cert) };
  const blob = randomBytes(2 * 1024 * 1024 + 5);
  const source = await listen(
    createTlsServer(tls, (_req, res) => {
      res.writeHead(200, { 'content-length': String(blob.length) });
      for (let i = 0; i < blob.length; i += 50_000) res.write(blob.subarray(i, i + 50_000));
      res.end();
    }),
  );
  let body: Buffer | undefined;
  const upload = await listen(
    createTlsServer(tls, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        body = Buffer.concat(chunks);
        res.writeHead(201).end();
      });
    }),
  );
  const ca = readFileSync(cert, 'utf8');
  const trusted = (url: string): PipeEndpoint => ({ ...endpoint(url.replace('http:', 'https:')), ca });
  const req = request(source, upload, blob);
  const outcome = await pipeBlob({ ...req, from: trusted(req.from.url.toString()), to: Promise.resolve(trusted(`${upload}/upload`)) });
  assert.deepEqual(outcome, { copied: true });
  assert.ok(body?.equals(blob));
  const untrusted = await pipeBlob({ ...req, from: endpoint(req.from.url.toString().replace('http:', 'https:')) });
  assert.equal(untrusted.copied, false);
});
