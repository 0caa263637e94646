import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { type EncodedPayload, type PayloadEncryption } from './payload-encryption';

/** A payload as Temporal's codec server protocol sends it: metadata values and data in base64. */
const jsonPayload = z.strictObject({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() });
const bodySchema = z.object({ payloads: z.array(jsonPayload).max(10_000) });
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface CodecServerOptions {
  /** Origins allowed to call it from a browser (the Temporal Web UI's), e.g. http://127.0.0.1:8233. */
  allowOrigins: string[];
}

/**
 * Temporal's remote codec protocol (`POST /encode`, `POST /decode` with `{ payloads: [...] }`) over
 * the chain's payload encryption, so the Web UI (`codec.endpoint`) and `temporal --codec-endpoint`
 * show decrypted payloads. Whoever reaches it can read every payload: bind it to loopback or put it
 * behind the same authentication as the UI.
 */
export function createCodecServer(encryption: PayloadEncryption, options: CodecServerOptions): Server {
  return createServer((req, res) => {
    void handle(encryption, options, req, res).catch((err: Error) => send(res, 400, { error: err.message }));
  });
}

async function handle(encryption: PayloadEncryption, options: CodecServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const origin = req.headers.origin;
  if (origin && options.allowOrigins.includes(origin)) {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
    res.setHeader('access-control-allow-headers', 'content-type, x-namespace, authorization');
    res.setHeader('access-control-allow-credentials', 'true');
    res.setHeader('vary', 'origin');
  }
  if (req.method === 'OPTIONS') return send(res, 204);
  const operation = req.url?.replace(/\?.*$/, '').replace(/\/+$/, '').split('/').pop();
  if (req.method !== 'POST' || (operation !== 'encode' && operation !== 'decode')) return send(res, 404, { error: 'POST /encode or /decode' });
  const parsed = bodySchema.safeParse(JSON.parse(await readBody(req)));
  if (!parsed.success)
    return send(res, 400, { error: `expected { payloads: [{ metadata, data }] } with base64 values: ${parsed.error.issues[0]?.message ?? ''}` });
  const payloads: EncodedPayload[] = parsed.data.payloads.map((p) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
    data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
  }));
  const result = operation === 'encode' ? await encryption.encode(payloads) : await encryption.decode(payloads);
  send(res, 200, {
    payloads: result.map((p) => ({
      metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
    })),
  });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`body larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}
