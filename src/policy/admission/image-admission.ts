import { createHash } from 'node:crypto';
import { ChainError } from '../../errors';
import { type ImageReference, parseImageReference } from '../../registry';
import { byCodeUnits } from '../../scan';
import { type DecisionStore } from '../decision-store';
import { evaluatePolicy } from '../evaluate';
import { type LoadedPolicy } from '../policy-file';
import { matchSidecar } from '../sidecars';
import { TtlCache } from '../ttl-cache';
import { type ContainerImage } from './pod-images';
import { type SignatureCheck, type SignatureFacts } from './signature-check';
import { type DecisionSource, StaleDecisions } from './stale-decisions';
import { summaryDenial } from './summary-verdict';

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

/** A day's rescan interval and two hours' slack. */
export const DEFAULT_SUMMARY_MAX_AGE_MS = 26 * 3_600_000;

export const DEFAULT_CACHE: CacheSettings = { decisionTtlMs: 60_000, signatureTtlMs: 300_000, unsignedTtlMs: 10_000, verdictTtlMs: 5_000, maxEntries: 10_000 };

export interface ImageAdmissionDeps {
  policy: () => LoadedPolicy;
  /** The chain's decision store; absent in registry-only mode. */
  decisions?: DecisionStore;
  /**
   * decision-store (default): the latest gate decision in Redis, re-evaluated; registry-only: no Redis, the
   * image's newest signed SLSA verification summary decides (see summaryDenial).
   */
  mode?: 'decision-store' | 'registry-only';
  /** Registry-only mode: how old the newest PASSED summary may be. */
  summaryMaxAgeMs?: number;
  checkSignatures: SignatureCheck;
  /** The digest a tag points to (the registry's HEAD manifest), undefined when the tag does not exist. */
  resolveTag: (image: { registry: string; repository: string; tag: string }) => Promise<string | undefined>;
  /** Registry hosts images may come from; absent = any (the signature check still needs a configured registry). */
  allowedRegistries?: readonly string[];
  /** Where the decision store lives, named in outage denials ("Redis at redis://…"). */
  decisionStoreName?: string;
  /** While the decision store is unreachable, decisions read at most this long ago keep answering (0 = fail closed). */
  serveCachedDecisionsOnOutageMs?: number;
  now?: () => Date;
  cache?: Partial<CacheSettings>;
}

/** The answer for one container image. `blocking` is false when the denial only warns (dry-run). */
export type ImageVerdict = { allowed: true; warnings: string[] } | { allowed: false; blocking: boolean; message: string; warnings: string[] };

/** Checks of the signature rule: when the image is unsigned these are reported after the gate's own violations. */
const SIGNATURE_RULES = new Set(['provenance.signatures', 'provenance.attestations']);

/**
 * Admission of one container image: from an allowed registry, digest-pinned, signed by a trusted
 * key, and allowed by the policy over the facts of its latest gate decision (or overridden by
 * break-glass). Every cache is keyed by everything the answer depends on — registry, repository,
 * digest, the trusted key set and the policy version — so a warm cache answers as a cold one would.
 */
export class ImageAdmission {
  private readonly records: TtlCache<DecisionSource>;
  private readonly stale: StaleDecisions;
  private readonly signatures: TtlCache<SignatureFacts>;
  /** Whole answers per (policy version, key set, namespace, image): the warm path does no parsing or evaluation. */
  private readonly verdicts: TtlCache<ImageVerdict>;
  private readonly settings: CacheSettings;
  private readonly keySets = new WeakMap<LoadedPolicy, string>();

  constructor(private readonly deps: ImageAdmissionDeps) {
    this.settings = { ...DEFAULT_CACHE, ...deps.cache };
    // A decision served from memory during an outage is not kept: the store is asked again next time.
    this.records = new TtlCache({
      ttlMs: this.settings.decisionTtlMs,
      maxEntries: this.settings.maxEntries,
      ttlFor: (s) => (s.warnings.length ? 0 : this.settings.decisionTtlMs),
    });
    this.stale = new StaleDecisions(deps.serveCachedDecisionsOnOutageMs ?? 0, this.settings.maxEntries, deps.now);
    this.signatures = new TtlCache({
      ttlMs: this.settings.signatureTtlMs,
      maxEntries: this.settings.maxEntries,
      ttlFor: (found) => (found.signedBy.length ? this.settings.signatureTtlMs : this.settings.unsignedTtlMs),
    });
    this.verdicts = new TtlCache({ ttlMs: this.settings.verdictTtlMs, maxEntries: this.settings.maxEntries });
  }

  /** A digest's decision changed (or it was signed): whatever was cached for it, in any repository, goes. */
  invalidate(digest: string): void {
    this.records.invalidate(digest);
    this.stale.forget(digest);
    this.signatures.invalidateWhere((key) => key.includes(`@${digest}\n`));
    this.verdicts.clear();
  }

  clear(): void {
    this.records.clear();
    this.signatures.clear();
    this.verdicts.clear();
  }

  async admit({ container, image }: ContainerImage, namespace: string | undefined, signal?: AbortSignal): Promise<ImageVerdict> {
    const loaded = this.deps.policy();
    const key = `${loaded.version}\n${this.keySet(loaded)}\n${namespace ?? ''}\n${image}`;
    const verdict = await this.verdicts.get(key, () => this.judge(image, namespace, loaded, signal));
    const warnings = verdict.warnings.map((w) => `${container}: ${w}`);
    return verdict.allowed ? { allowed: true, warnings } : { ...verdict, message: `${container}: ${verdict.message}`, warnings };
  }

  private async judge(image: string, namespace: string | undefined, loaded: LoadedPolicy, signal?: AbortSignal): Promise<ImageVerdict> {
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
    const allowed = this.deps.allowedRegistries;
    if (allowed && !allowed.includes(ref.registry)) {
      return deny(`registry ${ref.registry} is not allowed (images may come from ${allowed.join(', ')}): ${image}`);
    }
    if (ref.digest === undefined) return deny(await this.tagMessage(ref, name, image));
    const digest = ref.digest;
    if (this.deps.mode === 'registry-only' || !this.deps.decisions) return this.judgeFromSummary(ref, name, digest, loaded, signal);
    const decisions = this.deps.decisions;

    let source: DecisionSource;
    try {
      source = await this.records.get(digest, () => this.stale.load(digest, () => decisions.latest(digest)));
    } catch (err) {
      // Fail closed, and say it is the decision store that is missing, not the image's decision.
      const where = this.deps.decisionStoreName ?? 'the decision store';
      return deny(`cannot be checked: ${where} is unreachable (${(err as Error).message}); images are refused until it is back`, true);
    }
    const { record, warnings: outageWarnings } = source;
    if (!record) return deny(`${name}@${digest} has no gate decision: the image has not been through the delivery chain`);

    signal?.throwIfAborted();
    const signatureKey = `${name}@${digest}\n${this.keySet(loaded)}`;
    const signatures = await this.signatures.get(signatureKey, () =>
      this.deps.checkSignatures({ registry: ref.registry, repository: ref.repository, digest }, signal),
    );
    const unsigned = signatures.signedBy.length === 0;

    const facts = { ...record.facts, signatures: signatures.signedBy.map((keyId) => ({ keyId })), attestations: signatures.attestations };
    const decision = evaluatePolicy(facts, loaded, (this.deps.now ?? (() => new Date()))(), namespace === undefined ? {} : { namespace });
    const warnings = [...outageWarnings, ...decision.warnings];
    const notSigned = () => {
      const why = signatures.problems.length ? ` (${signatures.problems.join('; ')})` : '';
      return `${name}@${digest} is not signed by a trusted key${why}`;
    };
    // A blocked image is never signed (signing follows the gate): the gate's violations are the reason a user
    // needs, so they come first and the missing signature only after them.
    const gateViolations = decision.violations.filter((v) => v.enforced && !(unsigned && SIGNATURE_RULES.has(v.rule)));
    if (gateViolations.length && !record.override) {
      const shown = gateViolations.slice(0, 3).map((v) => `[${v.rule}] ${v.message}`);
      const more = gateViolations.length > shown.length ? `; and ${gateViolations.length - shown.length} more` : '';
      const tail = unsigned ? `; and it is not signed by a trusted key` : '';
      return deny(`${name}@${digest} is denied by policy ${decision.policyVersion}: ${shown.join('; ')}${more}${tail}`, true, warnings);
    }
    if (unsigned) return deny(notSigned());
    if (decision.allowed) return { allowed: true, warnings };
    return {
      allowed: true,
      warnings: [...warnings, `denied by policy but admitted by break-glass override of ${record.override?.actor ?? '?'} (${record.override?.reason ?? '?'})`],
    };
  }

  private async judgeFromSummary(ref: ImageReference, name: string, digest: string, loaded: LoadedPolicy, signal?: AbortSignal): Promise<ImageVerdict> {
    const signatures = await this.signatures.get(`${name}@${digest}\n${this.keySet(loaded)}`, () =>
      this.deps.checkSignatures({ registry: ref.registry, repository: ref.repository, digest }, signal),
    );
    const blocking = loaded.policy.mode === 'enforce';
    if (signatures.signedBy.length === 0) {
      const why = signatures.problems.length ? ` (${signatures.problems.join('; ')})` : '';
      return { allowed: false, blocking, message: `${name}@${digest} is not signed by a trusted key${why}`, warnings: [] };
    }
    const denial = summaryDenial(name, digest, signatures, (this.deps.now ?? (() => new Date()))(), this.deps.summaryMaxAgeMs ?? DEFAULT_SUMMARY_MAX_AGE_MS);
    return denial === undefined ? { allowed: true, warnings: [] } : { allowed: false, blocking, message: denial, warnings: [] };
  }

  /** The trusted keys' content (not their file names): a rotated key must never reuse an old answer. */
  private keySet(loaded: LoadedPolicy): string {
    let id = this.keySets.get(loaded);
    if (id === undefined) {
      const hash = createHash('sha256');
      for (const [keyId, pem] of [...loaded.keys].sort(([a], [b]) => byCodeUnits(a, b))) hash.update(`${keyId}\n${pem}\n`);
      id = hash.digest('hex').slice(0, 16);
      this.keySets.set(loaded, id);
    }
    return id;
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
