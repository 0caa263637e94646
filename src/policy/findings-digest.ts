/**
 * Digests of a decision's findings as the record stores them. The decision store keeps both beside
 * each record's findings, so a rescan learns from comparing digests, without reading the record's
 * findings back (most of a record's bytes: about 500 findings of an image of the fleet):
 * - findingFactsDigest: every field of every finding fact, in their order. Equal: the same facts in
 *   the same order (the findings as stored).
 * - findingsCompareDigest: what the rescan's comparison of findings looks at (the advisory, package,
 *   version, ecosystem, severity and fix of each), order aside. Equal: the same findings as far as a
 *   new decision is concerned (regate's findingsChanged).
 * Both are remembered per array: findings are never changed in place (records are replaced, not
 * edited), so the digest a rescan computed to compare is the one the store writes.
 */
import { createHash } from 'node:crypto';
import { type FindingFact } from './image-facts';
import { ObjectMemo } from './object-memo';

/** An absent optional field, told apart from an empty string. */
const NONE = '\u0003';

const factsDigests = new WeakMap<readonly FindingFact[], string>();
const compareDigests = new WeakMap<readonly FindingFact[], string>();

/** `findings`' digest from `memo`, or of the strings `parts` gives for them (its count, then SHA-1 of the strings apart by \u0001). */
function remembered(memo: WeakMap<readonly FindingFact[], string>, findings: readonly FindingFact[], parts: () => string[]): string {
  let digest = memo.get(findings);
  if (digest === undefined) {
    digest = `${findings.length}:${createHash('sha1').update(parts().join('\u0001')).digest('base64url')}`;
    memo.set(findings, digest);
  }
  return digest;
}

export function findingFactsDigest(findings: readonly FindingFact[]): string {
  return remembered(factsDigests, findings, () => factParts(findings));
}

/**
 * Each fact's part of its findings' facts digest. Facts are shared by every image with the same finding
 * (findingFacts), so a fleet rescan builds each part once, not once per image.
 */
const partOf = new ObjectMemo<FindingFact, string>('finding digest part');

function factParts(findings: readonly FindingFact[]): string[] {
  const parts: string[] = new Array<string>(findings.length);
  for (let i = 0; i < findings.length; i++) {
    const f = findings[i]!;
    let part = partOf.get(f);
    if (part === undefined) partOf.set(f, (part = factPart(f)));
    parts[i] = part;
  }
  return parts;
}

function factPart(f: FindingFact): string {
  // Fields apart by \u0000, lists by \u0002, findings by \u0001: no advisory or package string holds these.
  return [
    f.id,
    f.ids.join('\u0002'),
    f.aliases.join('\u0002'),
    f.package,
    f.version,
    f.ecosystem,
    f.purl ?? NONE,
    f.severity,
    f.fixable ? '1' : '0',
    f.fixedVersion ?? NONE,
    f.vendorSeverity ? `${f.vendorSeverity.source}\u0002${f.vendorSeverity.rating}` : NONE,
    f.cvssScore === undefined ? NONE : String(f.cvssScore),
    f.negligible ? '1' : '0',
    f.fixedIn ? `${f.fixedIn.name}\u0002${f.fixedIn.version}` : NONE,
  ].join('\u0000');
}

/** The fields findings are compared by (regate): an absent fixed version is an empty one there. */
export function findingCompareKey(f: FindingFact): string {
  return [f.id, f.package, f.version, f.ecosystem, f.severity, String(f.fixable), f.fixedVersion ?? ''].join('\u0000');
}

export function findingsCompareDigest(findings: readonly FindingFact[]): string {
  // Sorted in code-unit order: equal sorted lists, equal multisets of keys.
  return remembered(compareDigests, findings, () => findings.map(findingCompareKey).sort());
}
