import { z } from 'zod';
import { ChainError } from '../errors';
import { bareMediaType, MEDIA_TYPES } from './media-types';

const digest = z.string().regex(/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/, 'an <algorithm>:<encoded> digest');

export const platformSchema = z.object({
  architecture: z.string(),
  os: z.string(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
  features: z.array(z.string()).optional(),
});

export const descriptorSchema = z.object({
  mediaType: z.string().min(1),
  digest,
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  artifactType: z.string().optional(),
  platform: platformSchema.optional(),
});

export const ociManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MEDIA_TYPES.ociManifest).optional(),
  artifactType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export const ociIndexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MEDIA_TYPES.ociIndex).optional(),
  artifactType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export const dockerManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MEDIA_TYPES.dockerManifest),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
});

export const dockerManifestListSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MEDIA_TYPES.dockerManifestList),
  manifests: z.array(descriptorSchema),
});

export type Descriptor = z.infer<typeof descriptorSchema>;
export type OciManifest = z.infer<typeof ociManifestSchema>;
export type OciIndex = z.infer<typeof ociIndexSchema>;
export type DockerManifest = z.infer<typeof dockerManifestSchema>;
export type DockerManifestList = z.infer<typeof dockerManifestListSchema>;
export type Manifest = OciManifest | OciIndex | DockerManifest | DockerManifestList;
export type ManifestList = OciIndex | DockerManifestList;

const SCHEMAS = {
  [MEDIA_TYPES.ociManifest]: ociManifestSchema,
  [MEDIA_TYPES.ociIndex]: ociIndexSchema,
  [MEDIA_TYPES.dockerManifest]: dockerManifestSchema,
  [MEDIA_TYPES.dockerManifestList]: dockerManifestListSchema,
} as const;

type ManifestMediaType = keyof typeof SCHEMAS;
const isKnown = (mediaType: string): mediaType is ManifestMediaType => Object.hasOwn(SCHEMAS, mediaType);

export interface ParsedManifest {
  mediaType: string;
  manifest: Manifest;
}

/**
 * Parses manifest bytes. The media type comes from the document's own `mediaType` field when it has
 * one, else from the Content-Type the registry sent, else from the shape (OCI allows omitting it).
 * Docker schema 1 and anything else is refused with UNSUPPORTED_MEDIA_TYPE.
 */
export function parseManifest(bytes: Buffer, contentType?: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ChainError('BAD_INPUT', 'manifest is not valid JSON', { cause: err, retryable: false });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new ChainError('BAD_INPUT', 'manifest is not a JSON object', { retryable: false });
  const doc = json as Record<string, unknown>;
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const header = bareMediaType(contentType);
  const mediaType = declared ?? (isKnown(header) ? header : Array.isArray(doc.manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest);
  if (!isKnown(mediaType)) {
    throw new ChainError(
      'UNSUPPORTED_MEDIA_TYPE',
      `manifest media type "${mediaType}" is not supported (expected OCI image manifest/index or Docker v2 schema 2 manifest/list)`,
      { details: { mediaType } },
    );
  }
  if (doc.schemaVersion === 1) throw new ChainError('UNSUPPORTED_MEDIA_TYPE', 'Docker schema 1 manifests are not supported', { details: { mediaType } });
  const parsed = SCHEMAS[mediaType].safeParse(doc);
  if (!parsed.success) {
    throw new ChainError('BAD_INPUT', `manifest (${mediaType}) is invalid: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`, { retryable: false });
  }
  return { mediaType, manifest: parsed.data };
}

export function isManifestList(manifest: Manifest): manifest is ManifestList {
  return 'manifests' in manifest;
}

/** The blobs an image manifest references (config first), or none for an index. */
export function blobsOf(manifest: Manifest): Descriptor[] {
  return isManifestList(manifest) ? [] : [manifest.config, ...manifest.layers];
}

/** The child manifests an index references, or none for an image manifest. */
export function childManifestsOf(manifest: Manifest): Descriptor[] {
  return isManifestList(manifest) ? manifest.manifests : [];
}
