/**
 * cosign's "simple signing" payload (the containers/image signature format with cosign's type
 * string): what an image signature actually signs. Only the manifest digest is trusted on
 * verification; the docker-reference is informational (cosign spec).
 */
import { z } from 'zod';
import { imageDigestSchema } from './digest';
import { describeIssues, type ParseResult } from './parse-result';

export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';

const payloadSchema = z.object({
  critical: z.object({
    identity: z.object({ 'docker-reference': z.string() }),
    image: z.object({ 'docker-manifest-digest': imageDigestSchema }),
    type: z.literal(SIMPLE_SIGNING_TYPE),
  }),
  optional: z.record(z.string(), z.unknown()).nullish(),
});

export interface SimpleSigningPayload {
  dockerReference: string;
  digest: string;
  annotations: Record<string, unknown>;
}

/** The payload bytes cosign would write: same member order, `optional` null without annotations, keys sorted. */
export function buildSimpleSigningPayload(dockerReference: string, digest: string, annotations: Record<string, string> = {}): Buffer {
  const keys = Object.keys(annotations).sort();
  const optional = keys.length === 0 ? null : Object.fromEntries(keys.map((k) => [k, annotations[k]]));
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': digest }, type: SIMPLE_SIGNING_TYPE },
      optional,
    }),
    'utf8',
  );
}

export function parseSimpleSigningPayload(bytes: Buffer): ParseResult<SimpleSigningPayload> {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { ok: false, reason: 'payload is not JSON' };
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) {
    return { ok: false, reason: `payload is not a cosign simple-signing document (${describeIssues(parsed.error.issues)})` };
  }
  const { critical, optional } = parsed.data;
  return {
    ok: true,
    value: { dockerReference: critical.identity['docker-reference'], digest: critical.image['docker-manifest-digest'], annotations: optional ?? {} },
  };
}
