/**
 * A finding as the re-gate's decision inputs see it (findingsDigest): everything but the layer it was
 * read from, as one string. A fleet rescan digests about 500 findings per image, nearly all of them
 * cached findings of packages shared across the fleet: match-cache.ts builds each one's key once and
 * hands the keys of an image's findings out beside them (digestOfKeys), rather than rebuilding them
 * for each image.
 */
import { createHash } from 'node:crypto';
import { type Finding } from '../types';

export function findingKey(f: Finding): string {
  const p = f.package;
  return [
    f.id,
    f.ids.join(','),
    f.aliases.join(','),
    p.name,
    p.version,
    p.ecosystem,
    p.purl,
    f.severity,
    f.fixable ? '1' : '0',
    f.fixedVersion ?? '',
    f.vendorSeverity ? `${f.vendorSeverity.source}:${f.vendorSeverity.rating}` : '',
    f.cvssScore ?? '',
    f.negligible ? '1' : '0',
    f.fixedIn ? `${f.fixedIn.name}@${f.fixedIn.version}` : '',
    f.suppressedBy ? JSON.stringify(f.suppressedBy) : '',
  ].join('\u0000');
}

/** The digest of findings whose findingKeys are `keys` (in their order), with the VEX statements read. */
export function digestOfKeys(keys: readonly string[], vex: readonly unknown[] | undefined): string {
  return createHash('sha1')
    .update([...keys, vex === undefined ? '-' : JSON.stringify(vex)].join('\u0001'))
    .digest('base64url');
}
