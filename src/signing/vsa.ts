/**
 * SLSA Verification Summary Attestations (https://slsa.dev/spec/v1.0/verification_summary): the
 * gate's verdict on one image digest as a signed in-toto predicate that travels with the image
 * (sync copies `.att`), so a cluster in another region can decide from the registry alone.
 */
import { z } from 'zod';

export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';
/** Who verified: the chain's policy gate. */
export const VSA_VERIFIER_ID = 'https://delivery-chain.dev/verifier/policy-gate/v1';

export const vsaPredicateSchema = z.looseObject({
  verifier: z.looseObject({ id: z.string().min(1), version: z.record(z.string(), z.string()).optional() }),
  timeVerified: z.iso.datetime({ offset: true }),
  resourceUri: z.string().min(1),
  policy: z.looseObject({ uri: z.string().min(1).optional(), digest: z.record(z.string(), z.string()).optional() }),
  inputAttestations: z.array(z.looseObject({ uri: z.string().optional(), digest: z.record(z.string(), z.string()) })).optional(),
  verificationResult: z.enum(['PASSED', 'FAILED']),
  verifiedLevels: z.array(z.string()),
  dependencyLevels: z.record(z.string(), z.number()).optional(),
  slsaVersion: z.string().optional(),
});

export type VsaPredicate = z.infer<typeof vsaPredicateSchema>;

export interface VsaInput {
  registry: string;
  repository: string;
  digest: string;
  /** The gate's verdict (a break-glass override counts as passed: the chain let it through, on record). */
  passed: boolean;
  /** `<name>:<version>:sha256-<hex>` of the policy the gate evaluated. */
  policyVersion: string;
  /** When the gate decided: the same decision always gives the same VSA, so re-signing adds nothing. */
  timeVerified: string;
  /** The vulnerability data the verdict rests on (OSV export version), when known. */
  scanDataVersion?: string;
  verifierVersion?: string;
}

/** `oci://<registry>/<repository>@<digest>`: the resource the summary is about. */
export function vsaResourceUri(registry: string, repository: string, digest: string): string {
  return `oci://${registry}/${repository}@${digest}`;
}

export function buildVsa(input: VsaInput): VsaPredicate {
  const [name = 'policy', version = 'unversioned', hash = ''] = input.policyVersion.split(':');
  return {
    verifier: {
      id: VSA_VERIFIER_ID,
      version: { 'delivery-chain': input.verifierVersion ?? '0.1.0', ...(input.scanDataVersion ? { 'osv-data': input.scanDataVersion } : {}) },
    },
    timeVerified: new Date(input.timeVerified).toISOString(),
    resourceUri: vsaResourceUri(input.registry, input.repository, input.digest),
    // The policy's content hash is the prefix the policy version carries (sha256-<12 hex>), kept as written.
    policy: { uri: `https://delivery-chain.dev/policies/${encodeURIComponent(name)}/${encodeURIComponent(version)}#${hash}` },
    verificationResult: input.passed ? 'PASSED' : 'FAILED',
    verifiedLevels: [],
    slsaVersion: '1.0',
  };
}

/**
 * The VSA for a gate decision and scan summary as the workflow hands them to the sign stage (the
 * gate-decision and vulnerability-scan predicates), or undefined when they are not there.
 */
export function vsaFromChainAttestations(
  image: { registry: string; repository: string; digest: string },
  attestations: ReadonlyArray<{ predicateType: string; predicate: unknown }>,
  types: { gateDecision: string; vulnerabilityScan: string },
): VsaPredicate | undefined {
  const decision = z
    .looseObject({
      allowed: z.boolean(),
      policyVersion: z.string().min(1).optional(),
      evaluatedAt: z.string().optional(),
      overriddenBy: z.unknown().optional(),
      violations: z.unknown().optional(),
    })
    .safeParse(attestations.find((a) => a.predicateType === types.gateDecision)?.predicate);
  if (!decision.success) return undefined;
  const scan = z
    .looseObject({ scannedAt: z.string().optional(), osv: z.looseObject({ version: z.string().optional() }).optional() })
    .safeParse(attestations.find((a) => a.predicateType === types.vulnerabilityScan)?.predicate);
  const timeVerified = decision.data.evaluatedAt ?? (scan.success ? scan.data.scannedAt : undefined);
  if (timeVerified === undefined || Number.isNaN(Date.parse(timeVerified))) return undefined;
  return buildVsa({
    ...image,
    passed: decision.data.allowed,
    policyVersion: decision.data.policyVersion ?? 'break-glass:override:',
    timeVerified,
    ...(scan.success && scan.data.osv?.version ? { scanDataVersion: scan.data.osv.version } : {}),
  });
}

/** Reads a VSA predicate; undefined (with the reason) when it is not one. */
export function parseVsa(predicate: unknown): { ok: true; value: VsaPredicate } | { ok: false; reason: string } {
  const parsed = vsaPredicateSchema.safeParse(predicate);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, reason: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
}
