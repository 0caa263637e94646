import { ChainError } from '../../errors/chain-error';
import { type ImageReference, parseImageReference } from '../../registry';
import { type DecisionRecord, type DecisionStore } from '../decision-store';
import { evaluatePolicy } from '../evaluate';
import { type LoadedPolicy } from '../policy-file';
import { matchSidecar } from '../sidecars';
import { TtlCache } from '../ttl-cache';
import { type ContainerImage } from './pod-images';
import { type SignatureCheck, type SignatureFacts } from './signature-check';

export interface CacheSettings {
  /** How long a digest's decision record is kept without an invalidation (a safety net for lost messages). */
  decisionTtlMs: number;
  /** How long a verified signature set is trusted before it is checked again. */
  signatureTtlMs: number;
  /** How long "not signed" is remembered: short, since signing follows the gate. */
  unsignedTtlMs: number;
  /** How long a whole verdict is reused; bounds how late scan age and allowlist expiry are noticed. */
  verdictTtlMs: number;
  maxEntries: number;
}

export const DEFAULT_CACHE: CacheSettings = { decisionTtlMs: 60_000, signatureTtlMs: 300_000, unsignedTtlMs: 10_000, verdictTtlMs: 5_000, maxEntries: 10_000 };

export interface ImageAdmissionDeps {
  policy: () => LoadedPolicy;
  decisions: DecisionStore;
  checkSignatures: SignatureCheck;
  /** The digest a tag points to (the registry's HEAD manifest), undefined when the tag does not exist. */
  resolveTag: (image: { registry: string; repository: string; tag: string }) => Promise<string | undefined>;
  now?: () => Date;
  cache?: Partial<CacheSettings>;
}

/** The answer for one container image. `blocking` is false when the denial only warns (dry-run). */
export type ImageVerdict = { allowed: true; warnings: string[] } | { allowed: false; blocking: boolean; message: string; warnings: string[] };

/**
 * Admission of one container image: digest-pinned, signed by a trusted key, and allowed by the
 * policy over the facts of its latest gate decision (or overridden by break-glass). Decisions and
 * signature checks are cached per digest and dropped when the decision store announces a change.
 */
export class ImageAdmission {
  private readonly records: TtlCache<DecisionRecord | undefined>;
  private readonly signatures: TtlCache<SignatureFacts>;
  /** Whole answers per (policy version, namespace, image): the warm path does no parsing or evaluation. */
  private readonly verdicts: TtlCache<ImageVerdict>;
  private readonly settings: CacheSettings;

  constructor(private readonly deps: ImageAdmissionDeps) {
    this.settings = { ...DEFAULT_CACHE, ...deps.cache };
    this.records = new TtlCache({ ttlMs: this.settings.decisionTtlMs, maxEntries: this.settings.maxEntries });
    this.signatures = new TtlCache({
      ttlMs: this.settings.signatureTtlMs,
      maxEntries: this.settings.maxEntries,
      ttlFor: (found) => (found.signedBy.length ? this.settings.signatureTtlMs : this.settings.unsignedTtlMs),
    });
    this.verdicts = new TtlCache({ ttlMs: this.settings.verdictTtlMs, maxEntries: this.settings.maxEntries });
  }

  /** Verdicts are keyed by image reference, not digest: any change drops them all (changes are rare). */
  invalidate(digest: string): void {
    this.records.invalidate(digest);
    this.signatures.invalidate(digest);
    this.verdicts.clear();
  }

  clear(): void {
    this.records.clear();
    this.signatures.clear();
    this.verdicts.clear();
  }

  async admit({ container, image }: ContainerImage, namespace: string | undefined): Promise<ImageVerdict> {
    const loaded = this.deps.policy();
    const verdict = await this.verdicts.get(`${loaded.version}\n${namespace ?? ''}\n${image}`, () => this.judge(image, namespace, loaded));
    const warnings = verdict.warnings.map((w) => `${container}: ${w}`);
    return verdict.allowed ? { allowed: true, warnings } : { ...verdict, message: `${container}: ${verdict.message}`, warnings };
  }

  private async judge(image: string, namespace: string | undefined, loaded: LoadedPolicy): Promise<ImageVerdict> {
    const adminBlocking = loaded.policy.mode === 'enforce';
    const deny = (message: string, blocking = adminBlocking, warnings: string[] = []): ImageVerdict => ({ allowed: false, blocking, message, warnings });

    let ref: ImageReference;
    try {
      ref = parseImageReference(image);
    } catch (err) {
      return deny(`image "${image}" is not a valid reference (${(err as Error).message})`);
    }
    const sidecar = matchSidecar(loaded.policy.sidecars, ref);
    if (sidecar) return { allowed: true, warnings: [`${image} admitted as an allowlisted sidecar (${sidecar.reason})`] };

    const name = `${ref.registry}/${ref.repository}`;
    if (ref.digest === undefined) return deny(await this.tagMessage(ref, name, image));
    const digest = ref.digest;

    const record = await this.records.get(digest, () => this.deps.decisions.latest(digest));
    if (!record) return deny(`${name}@${digest} has no gate decision: the image has not been through the delivery chain`);

    const signatures = await this.signatures.get(digest, () => this.deps.checkSignatures({ registry: ref.registry, repository: ref.repository, digest }));
    if (signatures.signedBy.length === 0) {
      const why = signatures.problems.length ? ` (${signatures.problems.join('; ')})` : '';
      return deny(`${name}@${digest} is not signed by a trusted key${why}`);
    }

    const facts = { ...record.facts, signatures: signatures.signedBy.map((keyId) => ({ keyId })), attestations: signatures.attestations };
    const decision = evaluatePolicy(facts, loaded, (this.deps.now ?? (() => new Date()))(), namespace === undefined ? {} : { namespace });
    if (decision.allowed) return { allowed: true, warnings: decision.warnings };
    if (record.override) {
      return { allowed: true, warnings: [...decision.warnings, `denied by policy but admitted by break-glass override of ${record.override.actor} (${record.override.reason})`] };
    }
    const enforced = decision.violations.filter((v) => v.enforced);
    const shown = enforced.slice(0, 3).map((v) => `[${v.rule}] ${v.message}`);
    const more = enforced.length > shown.length ? `; and ${enforced.length - shown.length} more` : '';
    return deny(`${name}@${digest} is denied by policy ${decision.policyVersion}: ${shown.join('; ')}${more}`, true, decision.warnings);
  }

  private async tagMessage(ref: ImageReference, name: string, image: string): Promise<string> {
    const tag = ref.tag ?? 'latest';
    try {
      const digest = await this.deps.resolveTag({ registry: ref.registry, repository: ref.repository, tag });
      if (digest) return `image "${image}" is referenced by tag; reference it by digest: ${name}@${digest}`;
      return `image "${image}" is referenced by tag, and tag ${tag} does not exist in ${name}; reference images by digest`;
    } catch (err) {
      const why = ChainError.is(err) ? err.message : (err as Error).message;
      return `image "${image}" is referenced by tag; reference it by digest (resolving ${name}:${tag} failed: ${why})`;
    }
  }
}
