/**
 * What every webhook format is first parsed into: one registry event, before filtering decides
 * whether it starts a chain. Formats differ in what they can tell (Harbor sends no media type,
 * distribution sends the client's user agent), so most fields are optional.
 */
export interface PushNotice {
  /** push, pull, mount, delete… as the sender names it, lower-case. */
  action: string;
  /** What was pushed: a manifest (image, index, artifact) or a blob (layer, config). */
  target: 'manifest' | 'blob';
  repository: string;
  digest: string;
  /** Tags the push named (none for a push by digest). */
  tags: string[];
  mediaType?: string;
  artifactType?: string;
  /** The manifest names a subject (OCI 1.1 referrer: signature, attestation, SBOM). */
  hasSubject?: boolean;
  /** Media types of the manifest's config and layers, when the sender lists them. */
  referenceMediaTypes?: string[];
  /** ISO-8601. */
  pushedAt: string;
  deliveryId?: string;
  userAgent?: string;
  actor?: string;
}

export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

/** A time the sender gave (ISO string with any sub-second precision, or Unix seconds) as ISO-8601 in ms. */
export function isoTime(value: string | number | undefined, fallback: Date): string {
  if (value === undefined) return fallback.toISOString();
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? fallback.toISOString() : date.toISOString();
}
