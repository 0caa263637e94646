import { z } from 'zod';

const file = z.string().min(1, 'a file path');

/**
 * TLS to a service the chain connects to (Redis, Temporal): the CA bundle that signs the server's
 * certificate (absent: the system's roots), the client certificate and key for mutual TLS, and the
 * name the server's certificate must carry when it differs from the host connected to.
 */
export const clientTlsSchema = z
  .strictObject({
    caFile: file.optional(),
    certFile: file.optional(),
    keyFile: file.optional(),
    serverName: z.string().min(1).optional(),
  })
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
    message: 'certFile and keyFile go together (the client certificate and its private key)',
    path: ['certFile'],
  });

/**
 * A TLS listener (webhook API): certificate chain and key, re-read when either file changes (a
 * renewed certificate is served without a restart); caFile = client certificates signed by it are required.
 */
export const serverTlsSchema = z.strictObject({
  certFile: file,
  keyFile: file,
  caFile: file.optional(),
  /** How often the files are checked for a new certificate. */
  reloadIntervalMs: z.number().int().min(100).default(10_000),
});

/**
 * The Temporal payload codec: payloads (workflow inputs, results, signals, queries, memos) are
 * encrypted with AES-256-GCM before they reach Temporal, so histories hold no readable data. Each
 * key is 32 bytes in a file (raw, base64 or hex); the first key (or `encryptWith`) encrypts, every
 * listed key decrypts, and the key id travels in each payload's metadata: to rotate, put the new
 * key first and keep the old one listed until no history still needs it.
 */
export const payloadCodecSchema = z
  .strictObject({
    keys: z
      .array(z.strictObject({ id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, dash, underscore (at most 64)'), file }))
      .min(1, 'at least one key'),
    encryptWith: z.string().min(1).optional(),
  })
  .refine((c) => new Set(c.keys.map((k) => k.id)).size === c.keys.length, { message: 'key ids must be unique', path: ['keys'] })
  .refine((c) => c.encryptWith === undefined || c.keys.some((k) => k.id === c.encryptWith), {
    message: 'encryptWith names no listed key',
    path: ['encryptWith'],
  });

export type ClientTlsConfig = z.infer<typeof clientTlsSchema>;
export type PayloadCodecConfig = z.infer<typeof payloadCodecSchema>;
