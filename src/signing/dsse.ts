/**
 * Dead Simple Signing Envelope (secure-systems-lab/dsse v1): the signature covers the
 * Pre-Authentication Encoding of payload type and payload, never the JSON around them.
 */
import { z } from 'zod';
import { describeIssues, type ParseResult } from './parse-result';
import { type Signer, type Verifier } from './signer';

export const DSSE_ENVELOPE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in ASCII decimal bytes. */
export function preAuthEncoding(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

const base64 = z.string().regex(/^[A-Za-z0-9+/\-_]*={0,2}$/, 'base64');

const envelopeSchema = z.object({
  payloadType: z.string().min(1),
  payload: base64,
  signatures: z.array(z.object({ keyid: z.string().optional(), sig: base64 })).min(1, 'at least one signature'),
});

export interface Envelope {
  payloadType: string;
  payload: Buffer;
  signatures: Array<{ keyid: string; sig: Buffer }>;
}

/** Signs `payload`; `keyid` stays empty as cosign writes it (verifiers try every trusted key). */
export async function signEnvelope(payloadType: string, payload: Buffer, signer: Signer): Promise<Buffer> {
  const sig = await signer.sign(preAuthEncoding(payloadType, payload));
  return Buffer.from(JSON.stringify({ payloadType, payload: payload.toString('base64'), signatures: [{ keyid: '', sig: sig.toString('base64') }] }), 'utf8');
}

export function parseEnvelope(bytes: Buffer): ParseResult<Envelope> {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { ok: false, reason: 'DSSE envelope is not JSON' };
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) {
    return { ok: false, reason: `malformed DSSE envelope (${describeIssues(parsed.error.issues)})` };
  }
  const { payloadType, payload, signatures } = parsed.data;
  return {
    ok: true,
    value: {
      payloadType,
      payload: Buffer.from(payload, 'base64'),
      signatures: signatures.map((s) => ({ keyid: s.keyid ?? '', sig: Buffer.from(s.sig, 'base64') })),
    },
  };
}

/** The trusted keys whose signature over the envelope's PAE verifies. */
export function envelopeSigners(envelope: Envelope, verifiers: readonly Verifier[]): Verifier[] {
  const pae = preAuthEncoding(envelope.payloadType, envelope.payload);
  return verifiers.filter((v) => envelope.signatures.some((s) => v.verify(pae, s.sig)));
}
