import { z } from 'zod';
import { ChainError } from '../src/errors';
import { mapRepository, sha256DigestSchema } from '../src/registry';
import { FleetIndex, RedisSbomStore } from '../src/scan';
import { readFileSync } from 'node:fs';
import { DecisionStore, recordAllows } from '../src/policy';
import {
  attestImage,
  buildVsa,
  createSigner,
  PREDICATE_TYPES,
  type Signer,
  signImage,
  verifyImage,
  VSA_PREDICATE_TYPE,
  vsaFromChainAttestations,
} from '../src/signing';
import { activity, KEEP_ALIVE_MS } from './activity';
import { type ActivityDeps } from './deps';

const attestVerdictInputSchema = z.strictObject({ digest: sha256DigestSchema(), osvVersion: z.string().optional() });

const signInputSchema = z.strictObject({
  /** Configured registry name. */
  registry: z.string().min(1),
  repository: z.string().min(1),
  digest: sha256DigestSchema(),
  attestations: z.array(z.strictObject({ predicateType: z.string().min(1), predicate: z.unknown() })).default([]),
  /** Also attest the CycloneDX SBOM the scan stage stored for this digest (too large for workflow history). */
  attestStoredSbom: z.boolean().default(false),
});

export interface SignOutput {
  /** `sha256-<hex>.sig` in the image's repository. */
  signatureTag: string;
  keyId: string;
  /** False on a retry that found this key's signature already there. */
  signatureAdded: boolean;
  attestations: Array<{ predicateType: string; envelopeDigest: string; added: boolean }>;
}

/**
 * The sign stage. The key is resolved here, in the worker, from the configuration and the worker's
 * environment: it never travels through workflow inputs, results or history.
 */
export function createSignActivities(deps: ActivityDeps, signerFactory: () => Promise<Signer> = () => createSigner(deps.config.signing.key)) {
  let signer: Promise<Signer> | undefined;
  const sbomStore = new RedisSbomStore(deps.redis);
  const currentSigner = (): Promise<Signer> => {
    // A failed load (missing env, wrong password) is not cached: the next attempt reads again.
    signer ??= signerFactory().catch((err: unknown) => {
      signer = undefined;
      throw err;
    });
    return signer;
  };

  const decisions = new DecisionStore(deps.redis);
  // When each image's verification summary was signed: the rescan signs it again before it expires.
  const fleet = new FleetIndex(deps.redis);

  return {
    /**
     * The tag-delivery path's check: the digest in its source repository carries a valid signature
     * by the chain's key (or a configured trusted key) and its latest gate decision lets it run.
     * Fails for good (VERIFICATION_FAILED, POLICY_DENIED) otherwise: a new tag never delivers an
     * image the chain would not deliver now.
     */
    verifyDelivered: activity(
      deps.logger,
      { subject: (i: { registry: string; repository: string; digest: string }) => i.digest, failure: 'tag delivery check failed' },
      async (input, { log }): Promise<{ signedBy: string[]; policyVersion: string }> => {
        const keys = [await (await currentSigner()).publicKeyPem(), ...deps.config.signing.trustedKeys.map((path) => readFileSync(path, 'utf8'))];
        const report = await verifyImage(deps.registry(input.registry), input.repository, input.digest, keys);
        if (report.signedBy.length === 0) {
          throw new ChainError(
            'VERIFICATION_FAILED',
            `${input.repository}@${input.digest} has no valid signature by a trusted key: ${report.failures.map((f) => f.reason).join('; ') || 'no signatures'}`,
          );
        }
        const latest = await decisions.latest(input.digest);
        if (!latest) throw new ChainError('POLICY_DENIED', `${input.digest} has no gate decision; a new tag is not delivered without one`);
        if (!recordAllows(latest))
          throw new ChainError(
            'POLICY_DENIED',
            `the latest gate decision (policy ${latest.decision.policyVersion}) denies ${input.digest}; its new tags are not delivered`,
          );
        log.info({ signedBy: report.signedBy, policyVersion: latest.decision.policyVersion }, 'delivered image verified for a new tag');
        return { signedBy: report.signedBy, policyVersion: latest.decision.policyVersion };
      },
    ),

    /**
     * The rescan's verdict as a fresh SLSA VSA (timeVerified = now, PASSED when the latest decision lets
     * the image run), attached in the source repository and in every sync target's copy, replacing the
     * key's earlier VSA: registry-only admission reads a revocation from it at once, and a re-confirmed
     * verdict stays younger than `summaryMaxAge`. A retry replaces it again, so `.att` never grows.
     */
    attestVerdict: activity(
      deps.logger,
      { input: attestVerdictInputSchema, subject: (i) => i.digest, keepAliveMs: KEEP_ALIVE_MS, failure: 'attesting the rescan verdict failed' },
      async (input, { log, heartbeat }): Promise<{ result: 'PASSED' | 'FAILED'; timeVerified: string; repositories: string[] }> => {
        const latest = await decisions.latest(input.digest);
        if (!latest) throw new ChainError('NOT_FOUND', `no gate decision recorded for ${input.digest}`, { retryable: false });
        const { registry, repository } = latest.facts;
        // Decisions name the registry by its host (as images are referenced); the directory takes a name or a host.
        const source = deps.registry(registry);
        const key = await currentSigner();
        const timeVerified = new Date().toISOString();
        const vsa = buildVsa({
          registry: source.host,
          repository,
          digest: input.digest,
          passed: recordAllows(latest),
          policyVersion: latest.decision.policyVersion,
          timeVerified,
          ...(input.osvVersion ? { scanDataVersion: input.osvVersion } : {}),
        });
        const places = [
          { client: source, repository },
          ...deps.config.sync.targets.map((t) => ({ client: deps.registry(t.registry), repository: mapRepository(repository, t) })),
        ];
        const repositories: string[] = [];
        for (const [i, place] of places.entries()) {
          // A target the image never reached (blocked before its sync) has nothing to run from: nothing to attest there.
          if (i > 0 && !(await place.client.headManifest(place.repository, input.digest))) continue;
          await attestImage(place.client, place.repository, input.digest, key, VSA_PREDICATE_TYPE, vsa, { replace: true });
          repositories.push(`${place.client.host}/${place.repository}`);
          heartbeat({ attested: place.repository });
        }
        await fleet.setAttested([input.digest], timeVerified);
        log.info({ result: vsa.verificationResult, timeVerified, repositories }, 'rescan verdict attested (SLSA VSA)');
        return { result: vsa.verificationResult, timeVerified, repositories };
      },
    ),

    /**
     * Signs the digest and attaches each attestation, cosign-compatible; idempotent by content: the
     * same payload by the same key is never added twice, and a new run's attestation of a predicate
     * type replaces this key's earlier one, so `.sig` / `.att` never grow with re-runs.
     */
    signImage: activity(
      deps.logger,
      { input: signInputSchema, subject: (i) => i.digest, keepAliveMs: KEEP_ALIVE_MS, failure: 'signing failed' },
      async (input, { log, heartbeat }): Promise<SignOutput> => {
        const client = deps.registry(input.registry);
        const key = await currentSigner();
        const signature = await signImage(client, input.repository, input.digest, key, { annotations: deps.config.signing.annotations });
        heartbeat({ signed: true });
        const attestations: SignOutput['attestations'] = [];
        const toAttest = [...input.attestations];
        if (input.attestStoredSbom) {
          const stored = await sbomStore.get(input.digest);
          if (!stored) throw new ChainError('NOT_FOUND', `no stored SBOM for ${input.digest}; the scan stage stores one`);
          toAttest.unshift({ predicateType: PREDICATE_TYPES.cyclonedx, predicate: stored.sbom });
        }
        // The gate's verdict as a SLSA VSA, signed by the same key: admission in other regions decides from it.
        const vsa = vsaFromChainAttestations({ registry: client.host, repository: input.repository, digest: input.digest }, toAttest, PREDICATE_TYPES);
        if (vsa) toAttest.push({ predicateType: VSA_PREDICATE_TYPE, predicate: vsa });
        for (const { predicateType, predicate } of toAttest) {
          const result = await attestImage(client, input.repository, input.digest, key, predicateType, predicate, { replace: true });
          attestations.push({ predicateType, envelopeDigest: result.envelopeDigest, added: result.added });
          heartbeat({ attested: attestations.length });
        }
        if (vsa) await fleet.setAttested([input.digest], vsa.timeVerified);
        log.info({ keyId: signature.keyId, signatureAdded: signature.added, attestations: attestations.map((a) => a.predicateType) }, 'image signed');
        return { signatureTag: signature.tag, keyId: signature.keyId, signatureAdded: signature.added, attestations };
      },
    ),
  };
}
