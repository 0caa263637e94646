/**
 * How cosign stores signatures and attestations next to an image: an OCI image manifest tagged
 * `sha256-<hex>.sig` / `.att` whose layers are the signed payloads (one per signature) and whose
 * config is go-containerregistry's empty image config listing those layers.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { sha256DigestSchema } from '../registry';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const PREDICATE_TYPE_ANNOTATION = 'predicateType';
export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
/** Largest attestation envelope read back (SBOMs of big images run to several MiB). */
export const MAX_ENVELOPE_BYTES = 64 * 1024 * 1024;
const OCI_CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
/** go-containerregistry's zero time, which cosign leaves in place unless asked to record one. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

export type AttachmentKind = 'sig' | 'att';

export interface AttachmentLayer {
  mediaType: string;
  digest: string;
  size: number;
  annotations: Record<string, string>;
}

/** `sha256-<hex>.sig`: the tag cosign attaches signatures (or `.att` attestations) under. */
export function attachmentTag(digest: string, kind: AttachmentKind): string {
  return `${digest.replace(':', '-')}.${kind}`;
}

export const sha256Digest = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** cosign refuses attachment manifests with more layers than this; so do we. */
export const MAX_ATTACHMENT_LAYERS = 1000;

const layerSchema = z.looseObject({
  mediaType: z.string(),
  digest: sha256DigestSchema(),
  size: z.number().int().nonnegative(),
  annotations: z.record(z.string(), z.string()).optional(),
});
const attachmentManifestSchema = z.looseObject({ schemaVersion: z.literal(2), layers: z.array(layerSchema).max(MAX_ATTACHMENT_LAYERS) });

/** Layers of an existing attachment manifest, descriptors kept as found; undefined if it is not one. */
export function attachmentLayers(manifestBytes: Buffer): AttachmentLayer[] | undefined {
  let json: unknown;
  try {
    json = JSON.parse(manifestBytes.toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = attachmentManifestSchema.safeParse(json);
  if (!parsed.success) return undefined;
  return parsed.data.layers.map((l) => ({ ...l, annotations: l.annotations ?? {} }));
}

/** Manifest and config bytes for these layers, serialized as go-containerregistry serializes them. */
export function attachmentManifest(layers: readonly AttachmentLayer[]): { manifest: Buffer; config: Buffer; configDigest: string } {
  const config = Buffer.from(
    JSON.stringify({
      architecture: '',
      created: ZERO_TIME,
      history: layers.map(() => ({ created: ZERO_TIME })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
    'utf8',
  );
  const configDigest = sha256Digest(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      config: { mediaType: OCI_CONFIG_MEDIA_TYPE, size: config.length, digest: configDigest },
      layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest, annotations: sortedRecord(l.annotations) })),
    }),
    'utf8',
  );
  return { manifest, config, configDigest };
}

/** Go marshals maps with sorted keys; doing the same keeps our manifests identical to cosign's. */
function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((k) => [k, record[k] as string]),
  );
}
