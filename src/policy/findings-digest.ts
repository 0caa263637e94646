/**
 * A digest of a decision's findings as the record stores them: every field of every finding fact, in
 * their order. The decision store keeps it beside each record's findings, so a rescan that matched an
 * image exactly as it was gated learns that from one comparison of digests, without reading the
 * record's findings back (most of a record's bytes: about 500 findings of an image of the fleet).
 * Equal digests: the same facts in the same order.
 */
import { createHash } from 'node:crypto';
import { type FindingFact } from './image-facts';

/** An absent optional field, told apart from an empty string. */
const NONE = '\u0003';

export function findingFactsDigest(findings: readonly FindingFact[]): string {
  const parts: string[] = new Array<string>(findings.length);
  for (let i = 0; i < findings.length; i++) {
    const f = findings[i]!;
    // Fields apart by \u0000, lists by \u0002, findings by \u0001: no advisory or package string holds these.
    parts[i] = [
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
  return `${findings.length}:${createHash('sha1').update(parts.join('\u0001')).digest('base64url')}`;
}
