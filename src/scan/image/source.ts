/**
 * What the scanner needs from a registry. RegistryClient (src/registry) satisfies it; tests and
 * tools can pass anything else that does (an OCI layout on disk, a cache).
 */
import { type Readable } from 'node:stream';
import { z } from 'zod';
import { ChainError } from '../../errors';
import { SHA256_DIGEST } from '../digest';
import { type LayerFile } from '../layers/read-layer-file';

export interface ImageSource {
  getManifest(repo: string, reference: string): Promise<{ digest: string; mediaType: string; bytes: Buffer }>;
  getBlob(repo: string, digest: string, opts?: { maxBytes?: number }): Promise<Buffer>;
  blobStream(repo: string, digest: string): Promise<Readable>;
  /**
   * Where a blob lies on disk, for sources that hold it there (an OCI layout, an image archive): the scanner then
   * reads the file itself, hashing what it reads against `digest`, rather than through blobStream.
   */
  blobFile?(repo: string, digest: string): Promise<LayerFile>;
}

const descriptor = z.looseObject({
  mediaType: z.string().optional(),
  digest: z.string().regex(SHA256_DIGEST, 'a sha256 digest'),
  size: z.number().int().nonnegative(),
  platform: z.looseObject({ architecture: z.string(), os: z.string(), variant: z.string().optional() }).optional(),
});

const imageManifest = z.looseObject({ schemaVersion: z.literal(2), mediaType: z.string().optional(), config: descriptor, layers: z.array(descriptor) });
const indexManifest = z.looseObject({ schemaVersion: z.literal(2), mediaType: z.string().optional(), manifests: z.array(descriptor) });

export const imageConfigSchema = z.looseObject({
  architecture: z.string().optional(),
  os: z.string().optional(),
  config: z
    .looseObject({
      User: z.string().optional(),
      Env: z.array(z.string()).nullish(),
      Entrypoint: z.array(z.string()).nullish(),
      Cmd: z.array(z.string()).nullish(),
      Labels: z.record(z.string(), z.string()).nullish(),
    })
    .optional(),
  rootfs: z.looseObject({ type: z.string(), diff_ids: z.array(z.string()) }).optional(),
});

export type ImageManifestDoc = z.infer<typeof imageManifest>;
export type ImageConfig = z.infer<typeof imageConfigSchema>;

function parseJsonValue(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ChainError('BAD_INPUT', `${what} is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

function validate<T>(schema: z.ZodType<T>, json: unknown, what: string): T {
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw new ChainError('BAD_INPUT', `${what} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export interface Platform {
  os: string;
  architecture: string;
}

export const HOST_PLATFORM: Platform = { os: 'linux', architecture: process.arch === 'x64' ? 'amd64' : process.arch };

/** What resolveImage accepts from a registry (see LayerLimits). */
export interface ManifestLimits {
  maxManifestBytes: number;
  maxConfigBytes: number;
  maxIndexDepth: number;
}

const DEFAULT_MANIFEST_LIMITS: ManifestLimits = { maxManifestBytes: 4 * 1024 ** 2, maxConfigBytes: 8 * 1024 ** 2, maxIndexDepth: 2 };

/**
 * Resolves a reference to one image manifest (choosing `platform` from an index, and from the indexes
 * an index may nest, up to maxIndexDepth levels; an index met twice is a loop) and its config.
 */
export async function resolveImage(
  source: ImageSource,
  repo: string,
  reference: string,
  platform: Platform = HOST_PLATFORM,
  limits: ManifestLimits = DEFAULT_MANIFEST_LIMITS,
): Promise<{ digest: string; manifest: ImageManifestDoc; config: ImageConfig; configBytes: Buffer }> {
  let fetched = await source.getManifest(repo, reference);
  // The chain keys everything by the digest it was given: an index's, even when one platform is scanned.
  const digest = fetched.digest;
  const seen = new Set<string>();
  for (let depth = 0; ; depth++) {
    const what = `${depth === 0 ? 'manifest' : 'child manifest'} ${repo}@${fetched.digest}`;
    if (fetched.bytes.length > limits.maxManifestBytes)
      throw new ChainError('TOO_LARGE', `${what} is ${fetched.bytes.length} bytes, over the limit of ${limits.maxManifestBytes} bytes`);
    const json = parseJsonValue(fetched.bytes, what);
    if (!Array.isArray((json as { manifests?: unknown } | null)?.manifests)) {
      const manifest = validate(imageManifest, json, what);
      const configBytes = await source.getBlob(repo, manifest.config.digest, { maxBytes: limits.maxConfigBytes });
      const config = validate(
        imageConfigSchema,
        parseJsonValue(configBytes, `image config ${manifest.config.digest}`),
        `image config ${manifest.config.digest}`,
      );
      return { digest, manifest, config, configBytes };
    }
    const index = validate(indexManifest, json, `index ${repo}@${fetched.digest}`);
    if (seen.has(fetched.digest)) throw new ChainError('BAD_INPUT', `index ${repo}@${fetched.digest} refers to itself through its children (a loop)`);
    seen.add(fetched.digest);
    if (depth >= limits.maxIndexDepth) throw new ChainError('TOO_LARGE', `${repo}@${digest}: indexes nest more than ${limits.maxIndexDepth} levels deep`);
    const child = index.manifests.find((m) => m.platform?.os === platform.os && m.platform.architecture === platform.architecture);
    if (!child) {
      const available =
        index.manifests
          .slice(0, 20)
          .map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}` : m.digest))
          .join(', ') + (index.manifests.length > 20 ? ', …' : '');
      throw new ChainError('NOT_FOUND', `${repo}@${fetched.digest} has no ${platform.os}/${platform.architecture} image (has: ${available})`);
    }
    fetched = await source.getManifest(repo, child.digest);
  }
}
