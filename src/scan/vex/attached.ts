/**
 * VEX attached to an image as cosign attestations (`sha256-<hex>.att`, predicate type
 * https://openvex.dev/ns or https://cyclonedx.org/vex). Only attestations a trusted key signed for
 * this very digest are believed: anyone who can push to the registry could otherwise attach a
 * statement that hides a finding. The rest are reported as problems, never applied.
 */
import type * as Signing from '../../signing';
import { type SignatureRegistry } from '../../signing';
import { CYCLONEDX_VEX_PREDICATE_TYPE } from './cyclonedx';
import { readVexDocument } from './document';
import { OPENVEX_PREDICATE_TYPE } from './openvex';
import { type VexStatement } from './statement';

export const VEX_PREDICATE_TYPES = [OPENVEX_PREDICATE_TYPE, CYCLONEDX_VEX_PREDICATE_TYPE] as const;

export interface AttachedVex {
  statements: VexStatement[];
  /** Attestations that were not applied, and why (unsigned, foreign key, malformed document). */
  problems: string[];
}

export async function readAttachedVex(client: SignatureRegistry, repo: string, digest: string, trustedKeysPem: readonly string[]): Promise<AttachedVex> {
  if (trustedKeysPem.length === 0) return { statements: [], problems: [] };
  // Loaded on first use: the signing code (and its PKCS#11 binding) is start-up time for every scan that never reads attached VEX.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose, see above
  const { verifiedPredicates } = require('../../signing') as typeof Signing;
  const { predicates, failures } = await verifiedPredicates(client, repo, digest, trustedKeysPem, VEX_PREDICATE_TYPES);
  const problems = failures.map((f) => `VEX attestation ${f.layer || attTag(digest)} not applied: ${f.reason ?? f.code ?? 'invalid'}`);
  const statements: VexStatement[] = [];
  for (const p of predicates) {
    const origin = `${client.host}/${repo}@${p.layer}`;
    const read = readVexDocument(p.predicate, origin, { subjectDigests: p.subjectDigests, source: { keyId: p.keyIds[0]! } });
    if (read.ok) statements.push(...read.statements);
    else problems.push(`VEX attestation ${p.layer} not applied: ${read.problems.join('; ')}`);
  }
  return { statements, problems };
}

const attTag = (digest: string) => `${digest.replace(':', '-')}.att`;
