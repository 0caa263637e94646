/**
 * Which VEX statement, if any, takes each finding out of the verdict. One pure function used by the
 * gate, every rescan and the CLI, so they cannot disagree.
 *
 * A statement concerns a finding when it names the finding's vulnerability (its id or an alias, on
 * either side) and a product that is the image (by digest, or a pkg:oci purl of that digest; then
 * its subcomponents, if any, must include the finding's package) or the finding's package itself
 * (by purl). VEX is a sequence of statements each overriding the earlier ones: per author, the
 * newest statement concerning the finding counts. The finding is suppressed when such a statement
 * says `fixed`, or `not_affected` with a justification or impact statement, and has not expired.
 */
import { ociDigest, purlCovers } from './purl';
import { instant, SUPPRESSING_STATUSES, type VexProduct, type VexStatement } from './statement';

export interface VexFinding {
  id: string;
  aliases: readonly string[];
  /** Package name (the allowlist's `packages` compare with it). */
  package: string;
  purl?: string;
}

export interface VexOutcome {
  /** The statement that suppresses the finding. */
  suppressedBy?: VexStatement;
  /** A suppressing statement that would apply but has expired (for the message saying so). */
  expired?: VexStatement;
}

export function vexOutcome(finding: VexFinding, statements: readonly VexStatement[], imageDigest: string, now: Date): VexOutcome {
  const names = new Set([finding.id, ...finding.aliases].map((n) => n.toUpperCase()));
  const newest = new Map<string, VexStatement>();
  for (const s of statements) {
    if (![s.vulnerability, ...s.aliases].some((n) => names.has(n.toUpperCase()))) continue;
    if (s.packages && !s.packages.includes(finding.package)) continue;
    if (s.products.length > 0 && !s.products.some((p) => productCovers(p, finding, imageDigest))) continue;
    const author = `${s.source.format}\u0000${s.source.author ?? s.source.document}`;
    const current = newest.get(author);
    if (!current || time(s) >= time(current)) newest.set(author, s);
  }
  const outcome: VexOutcome = {};
  for (const s of newest.values()) {
    if (!suppresses(s)) continue;
    if (s.expires !== undefined && !(instant(s.expires) > now.getTime())) {
      outcome.expired ??= s;
      continue;
    }
    if (!outcome.suppressedBy || time(s) > time(outcome.suppressedBy)) outcome.suppressedBy = s;
  }
  if (outcome.suppressedBy) delete outcome.expired;
  return outcome;
}

/** `fixed`, or `not_affected` with its reason (a bare not_affected claim suppresses nothing). */
export function suppresses(s: VexStatement): boolean {
  if (!SUPPRESSING_STATUSES.has(s.status)) return false;
  return s.status !== 'not_affected' || s.justification !== undefined || s.impactStatement !== undefined;
}

function productCovers(product: VexProduct, finding: VexFinding, imageDigest: string): boolean {
  const isImage = product.ids.some((id) => id.toLowerCase() === imageDigest || ociDigest(id) === imageDigest);
  if (isImage) return product.subcomponents.length === 0 || (finding.purl !== undefined && product.subcomponents.some((c) => purlCovers(c, finding.purl!)));
  return finding.purl !== undefined && product.ids.some((id) => purlCovers(id, finding.purl!));
}

/** Statements without a time are the oldest of their author. */
function time(s: VexStatement): number {
  const t = s.timestamp ? instant(s.timestamp) : NaN;
  return Number.isNaN(t) ? -Infinity : t;
}

/** One line naming the statement: status, justification, source, expiry. */
export function describeStatement(s: VexStatement): string {
  const why = s.justification ?? s.impactStatement;
  const by =
    s.source.format === 'allowlist'
      ? `allowlist ${s.source.document}`
      : `${s.source.format === 'openvex' ? 'OpenVEX' : 'CycloneDX VEX'} ${s.source.document}${s.source.author ? ` by ${s.source.author}` : ''}${s.source.keyId ? ` (signed by ${s.source.keyId})` : ''}`;
  return `${s.status}${why ? ` (${why})` : ''} per ${by}${s.expires ? `, until ${s.expires}` : ''}`;
}
