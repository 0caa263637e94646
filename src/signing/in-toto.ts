/**
 * in-toto attestation Statement (v1; v0.1 accepted on read because cosign 2.x still writes it):
 * binds a predicate to the image by its digest.
 */
import { z } from 'zod';
import { describeIssues, type ParseResult } from './parse-result';

export const STATEMENT_TYPE_V1 = 'https://in-toto.io/Statement/v1';
const STATEMENT_TYPE_V01 = 'https://in-toto.io/Statement/v0.1';

/** Predicate types of the chain's attestations (cosign's names for the standard ones). */
export const PREDICATE_TYPES = {
  cyclonedx: 'https://cyclonedx.org/bom',
  vulnerabilityScan: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  slsaProvenance: 'https://slsa.dev/provenance/v1',
  gateDecision: 'https://delivery-chain.dev/attestation/gate-decision/v1',
} as const;

export const predicateTypeSchema = z.string().min(1).max(512).regex(/^\S+$/, 'a predicate type URI without spaces');

const statementSchema = z.object({
  _type: z.enum([STATEMENT_TYPE_V1, STATEMENT_TYPE_V01]),
  subject: z.array(z.object({ name: z.string().optional(), digest: z.record(z.string(), z.string()) })).min(1, 'at least one subject'),
  predicateType: predicateTypeSchema,
  predicate: z.unknown().optional(),
});

export interface Statement {
  subjectDigests: string[];
  predicateType: string;
  predicate: unknown;
}

/** The Statement for one image, serialized as it is signed. */
export function buildStatement(subjectName: string, digest: string, predicateType: string, predicate: unknown): Buffer {
  const [algorithm, hex] = digest.split(':') as [string, string];
  return Buffer.from(
    JSON.stringify({ _type: STATEMENT_TYPE_V1, subject: [{ name: subjectName, digest: { [algorithm]: hex } }], predicateType, predicate: predicate ?? {} }),
    'utf8',
  );
}

export function parseStatement(bytes: Buffer): ParseResult<Statement> {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { ok: false, reason: 'in-toto statement is not JSON' };
  }
  const parsed = statementSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: `malformed in-toto statement (${describeIssues(parsed.error.issues)})` };
  const { subject, predicateType, predicate } = parsed.data;
  return {
    ok: true,
    value: { subjectDigests: subject.flatMap((s) => Object.entries(s.digest).map(([alg, hex]) => `${alg}:${hex.toLowerCase()}`)), predicateType, predicate },
  };
}
