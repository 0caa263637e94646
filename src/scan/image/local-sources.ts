/**
 * Image sources on disk, read in place: an OCI image layout directory (`oci:`), the same layout in a tar file
 * (`oci-archive:`), and `docker save` / skopeo `docker-archive:` tar files. Nothing is extracted: blobs are
 * streamed from the directory or from their offset in the tar file, and verified against their digests as the
 * registry client verifies what it downloads.
 *
 * A docker-archive has no manifest, only `manifest.json` (config and layer file names per image) and the
 * config; the source synthesises an OCI manifest whose layers are named by the sha256 of the layer files (for
 * the uncompressed tars docker and skopeo write, their diff_ids), so its image digest is that synthesised
 * manifest's and its layer digests are the diff_ids, not the compressed digests a registry would show.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { z } from 'zod';
import { ChainError } from '../../errors';
import { DigestVerifier, digestOf, isDigest, verifyDigest } from '../digest';
import { type FileRange } from '../layers/file-range';
import { type LayerFile } from '../layers/read-layer-file';
import { type ImageSource } from './source';
import { TarIndex } from './tar-index';

/** Small documents (index.json, manifests, configs) are refused above this size. */
const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;
const REF_NAME = 'org.opencontainers.image.ref.name';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** Read access to the files of a layout or an archive. */
interface LocalFiles {
  readonly what: string;
  has(path: string): boolean;
  read(path: string, maxBytes: number): Buffer;
  size(path: string): number;
  stream(path: string): Readable;
  /** Where the file's bytes are: a file of its own, or a stretch of the archive. */
  range(path: string): FileRange;
}

class DirFiles implements LocalFiles {
  constructor(private readonly dir: string) {}
  get what(): string {
    return this.dir;
  }
  has(path: string): boolean {
    return existsSync(join(this.dir, path));
  }
  read(path: string, maxBytes: number): Buffer {
    const size = this.size(path);
    if (size > maxBytes) throw new ChainError('TOO_LARGE', `${join(this.dir, path)} is ${size} bytes, more than the limit of ${maxBytes}`);
    return readFileSync(join(this.dir, path));
  }
  size(path: string): number {
    try {
      return statSync(join(this.dir, path)).size;
    } catch (err) {
      throw new ChainError('NOT_FOUND', `${this.dir} has no ${path}`, { cause: err });
    }
  }
  stream(path: string): Readable {
    this.size(path); // a clear NOT_FOUND before the stream opens
    return createReadStream(join(this.dir, path), { highWaterMark: 256 * 1024 });
  }
  range(path: string): FileRange {
    return { file: join(this.dir, path), offset: 0, size: this.size(path) };
  }
}

class TarFiles implements LocalFiles {
  private readonly index: TarIndex;
  constructor(readonly what: string) {
    this.index = TarIndex.open(what);
  }
  has(path: string): boolean {
    return this.index.has(path);
  }
  read(path: string, maxBytes: number): Buffer {
    return this.index.read(path, maxBytes);
  }
  size(path: string): number {
    const m = this.index.member(path);
    if (!m) throw new ChainError('NOT_FOUND', `${this.what} has no ${path}`);
    return m.size;
  }
  stream(path: string): Readable {
    return this.index.stream(path);
  }
  range(path: string): FileRange {
    const m = this.index.member(path);
    if (!m) throw new ChainError('NOT_FOUND', `${this.what} has no ${path}`);
    return { file: this.what, offset: m.offset, size: m.size };
  }
}

function parseJson<T>(schema: z.ZodType<T>, bytes: Buffer, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ChainError('BAD_INPUT', `${what} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw new ChainError('BAD_INPUT', `${what} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

function verifiedStream(stream: Readable, digest: string, what: string): Readable {
  const verifier = new DigestVerifier(digest, what);
  pipeline(stream, verifier, () => undefined); // errors reach the reader through the verifier
  return verifier;
}

const ociIndexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  manifests: z.array(
    z.looseObject({
      mediaType: z.string().optional(),
      digest: z.string().refine(isDigest, 'a sha256/sha512 digest'),
      size: z.number().int().nonnegative(),
      annotations: z.record(z.string(), z.string()).optional(),
    }),
  ),
});

/** An OCI image layout (index.json, blobs/<alg>/<hex>), from a directory or a tar file. */
export class OciLayoutSource implements ImageSource {
  private readonly index: z.infer<typeof ociIndexSchema>;

  constructor(private readonly files: LocalFiles) {
    if (!files.has('oci-layout') || !files.has('index.json'))
      throw new ChainError('BAD_INPUT', `${files.what} is not an OCI image layout (no oci-layout or index.json)`);
    this.index = parseJson(ociIndexSchema, files.read('index.json', MAX_DOCUMENT_BYTES), `${files.what}: index.json`);
  }

  /** The tags (ref.name annotations) the layout's index lists. */
  tags(): string[] {
    return this.index.manifests.flatMap((m) => (m.annotations?.[REF_NAME] ? [m.annotations[REF_NAME]] : []));
  }

  /** The manifest digest for a tag, or the only manifest when no tag is given. */
  resolve(reference: string | undefined): string {
    if (reference && isDigest(reference)) return reference;
    const { manifests } = this.index;
    if (reference === undefined) {
      if (manifests.length === 1) return manifests[0]!.digest;
      throw new ChainError('BAD_INPUT', `${this.files.what} holds ${manifests.length} images; name one (tags: ${this.tags().join(', ') || 'none'})`);
    }
    const found = manifests.find((m) => m.annotations?.[REF_NAME] === reference);
    if (!found) throw new ChainError('NOT_FOUND', `${this.files.what} has no image tagged "${reference}" (tags: ${this.tags().join(', ') || 'none'})`);
    return found.digest;
  }

  private blobPath(digest: string): string {
    if (!isDigest(digest)) throw new ChainError('BAD_INPUT', `"${digest}" is not a digest`);
    const [alg, hex] = digest.split(':') as [string, string];
    return `blobs/${alg}/${hex}`;
  }

  getManifest(_repo: string, reference: string): Promise<{ digest: string; mediaType: string; bytes: Buffer }> {
    const digest = this.resolve(reference);
    const bytes = this.files.read(this.blobPath(digest), MAX_DOCUMENT_BYTES);
    verifyDigest(bytes, digest, `${this.files.what}: manifest ${digest}`);
    const declared = this.index.manifests.find((m) => m.digest === digest)?.mediaType;
    const mediaType = declared ?? (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? OCI_MANIFEST;
    return Promise.resolve({ digest, mediaType, bytes });
  }

  getBlob(_repo: string, digest: string, opts: { maxBytes?: number } = {}): Promise<Buffer> {
    const bytes = this.files.read(this.blobPath(digest), opts.maxBytes ?? MAX_DOCUMENT_BYTES);
    verifyDigest(bytes, digest, `${this.files.what}: blob ${digest}`);
    return Promise.resolve(bytes);
  }

  blobStream(_repo: string, digest: string): Promise<Readable> {
    const path = this.blobPath(digest);
    return Promise.resolve(verifiedStream(this.files.stream(path), digest, `${this.files.what}: blob ${digest}`));
  }

  blobFile(_repo: string, digest: string): Promise<LayerFile> {
    return Promise.resolve({ ...this.files.range(this.blobPath(digest)), what: `${this.files.what}: blob ${digest}` });
  }
}

const dockerManifestSchema = z
  .array(z.looseObject({ Config: z.string().min(1), RepoTags: z.array(z.string()).nullish(), Layers: z.array(z.string().min(1)) }))
  .min(1, 'lists no image');
type DockerArchiveEntry = z.infer<typeof dockerManifestSchema>[number];

const diffIdsSchema = z.looseObject({ rootfs: z.looseObject({ diff_ids: z.array(z.string()) }) });

/** What a layer file starts with decides its media type; the tars docker and skopeo write are uncompressed. */
function layerMediaType(head: Buffer): string {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'application/vnd.oci.image.layer.v1.tar+gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'application/vnd.oci.image.layer.v1.tar+zstd';
  return 'application/vnd.oci.image.layer.v1.tar';
}

/** One image of a `docker save` / `docker-archive:` tar file, as an OCI manifest over the archive's files. */
export class DockerArchiveSource implements ImageSource {
  private readonly blobs = new Map<string, string>();
  private readonly manifestBytes: Buffer;
  readonly manifestDigest: string;
  /** The first RepoTags entry, when the archive names the image. */
  readonly repoTag: string | undefined;

  private constructor(
    private readonly files: LocalFiles,
    entry: DockerArchiveEntry,
    layerDigests: { digest: string; size: number; mediaType: string; path: string }[],
    config: { digest: string; size: number },
  ) {
    this.repoTag = entry.RepoTags?.[0];
    this.blobs.set(config.digest, entry.Config);
    for (const l of layerDigests) this.blobs.set(l.digest, l.path);
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
      layers: layerDigests.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    this.manifestBytes = Buffer.from(JSON.stringify(manifest));
    this.manifestDigest = digestOf(this.manifestBytes);
  }

  /**
   * Picks the image named by `reference` (a RepoTags entry, or `@<index>` as skopeo writes it), or the only
   * one. Layers are named by the digest of their file: the config's diff_id for an uncompressed layer (the
   * blob stream verifies it), the file's sha256 for a compressed one (hashed here, a rare case).
   */
  static async open(files: LocalFiles, reference: string | undefined): Promise<DockerArchiveSource> {
    if (!files.has('manifest.json')) throw new ChainError('BAD_INPUT', `${files.what} is not a docker-archive (no manifest.json)`);
    const entries = parseJson(dockerManifestSchema, files.read('manifest.json', MAX_DOCUMENT_BYTES), `${files.what}: manifest.json`);
    let entry: DockerArchiveEntry | undefined;
    if (reference === undefined) {
      if (entries.length > 1)
        throw new ChainError(
          'BAD_INPUT',
          `${files.what} holds ${entries.length} images; name one (${entries.flatMap((e) => e.RepoTags ?? []).join(', ') || '@0, @1, …'})`,
        );
      entry = entries[0];
    } else if (/^@\d+$/.test(reference)) entry = entries[Number(reference.slice(1))];
    else
      entry = entries.find((e) =>
        (e.RepoTags ?? []).some(
          (t) => t === reference || t === `${reference}:latest` || t === `docker.io/${reference}` || t === `docker.io/library/${reference}`,
        ),
      );
    if (!entry)
      throw new ChainError(
        'NOT_FOUND',
        `${files.what} has no image "${reference}" (has: ${entries.flatMap((e) => e.RepoTags ?? []).join(', ') || `@0…@${entries.length - 1}`})`,
      );

    const configBytes = files.read(entry.Config, MAX_DOCUMENT_BYTES);
    const configDigest = digestOf(configBytes);
    const diffIds = parseJson(diffIdsSchema, configBytes, `${files.what}: image config ${entry.Config}`).rootfs.diff_ids;
    if (diffIds.length !== entry.Layers.length) {
      throw new ChainError('BAD_INPUT', `${files.what}: manifest.json lists ${entry.Layers.length} layers, the image config ${diffIds.length} diff_ids`);
    }
    const layers = [];
    for (const [i, path] of entry.Layers.entries()) {
      const head = firstBytes(files.range(path), 4);
      const mediaType = layerMediaType(head);
      const digest = mediaType.endsWith('.tar') ? diffIds[i]! : await sha256Of(files.stream(path));
      if (!isDigest(digest)) throw new ChainError('BAD_INPUT', `${files.what}: diff_id "${digest}" is not a digest`);
      layers.push({ digest, size: files.size(path), mediaType, path });
    }
    return new DockerArchiveSource(files, entry, layers, { digest: configDigest, size: configBytes.length });
  }

  getManifest(_repo: string, reference: string): Promise<{ digest: string; mediaType: string; bytes: Buffer }> {
    if (isDigest(reference) && reference !== this.manifestDigest)
      return Promise.reject(new ChainError('NOT_FOUND', `${this.files.what} has no manifest ${reference}`));
    return Promise.resolve({ digest: this.manifestDigest, mediaType: OCI_MANIFEST, bytes: this.manifestBytes });
  }

  private path(digest: string): string {
    const path = this.blobs.get(digest);
    if (!path) throw new ChainError('NOT_FOUND', `${this.files.what} has no blob ${digest}`);
    return path;
  }

  getBlob(_repo: string, digest: string, opts: { maxBytes?: number } = {}): Promise<Buffer> {
    const bytes = this.files.read(this.path(digest), opts.maxBytes ?? MAX_DOCUMENT_BYTES);
    verifyDigest(bytes, digest, `${this.files.what}: blob ${digest}`);
    return Promise.resolve(bytes);
  }

  blobStream(_repo: string, digest: string): Promise<Readable> {
    return Promise.resolve(verifiedStream(this.files.stream(this.path(digest)), digest, `${this.files.what}: layer ${digest}`));
  }

  blobFile(_repo: string, digest: string): Promise<LayerFile> {
    return Promise.resolve({ ...this.files.range(this.path(digest)), what: `${this.files.what}: layer ${digest}` });
  }
}

/** A file's first bytes, read in place (a read stream would read 256 KiB of each layer for its media type). */
function firstBytes(range: FileRange, n: number): Buffer {
  const head = Buffer.alloc(Math.min(n, range.size));
  const fd = openSync(range.file, 'r');
  try {
    readSync(fd, head, 0, head.length, range.offset);
  } finally {
    closeSync(fd);
  }
  return head;
}

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

export const LOCAL_TRANSPORTS = ['docker-archive', 'oci-archive', 'oci'] as const;
export type LocalTransport = (typeof LOCAL_TRANSPORTS)[number];

/**
 * Where an image argument points, in the transport syntax skopeo, syft and Trivy users write
 * (containers-transports(5)): `docker-archive:<file>[:<name:tag>|:@<index>]`, `oci-archive:<file>[:<tag>]`,
 * `oci:<dir>[:<tag>]`; `docker://<ref>`, `registry:<ref>` or a bare reference for a registry.
 */
export type ImageInput = { transport: 'registry'; reference: string } | { transport: LocalTransport; path: string; reference?: string };

export function parseImageInput(arg: string): ImageInput {
  for (const prefix of ['docker://', 'registry:']) if (arg.startsWith(prefix)) return { transport: 'registry', reference: arg.slice(prefix.length) };
  const colon = arg.indexOf(':');
  const transport = LOCAL_TRANSPORTS.find((t) => t === arg.slice(0, colon));
  if (!transport) return { transport: 'registry', reference: arg };
  // As in containers/image: the path ends at the next colon, the rest names the image inside.
  const rest = arg.slice(colon + 1);
  const sep = rest.indexOf(':');
  const path = sep < 0 ? rest : rest.slice(0, sep);
  const reference = sep < 0 ? undefined : rest.slice(sep + 1);
  if (path === '') throw new ChainError('BAD_INPUT', `${transport}: needs a path, e.g. ${transport}:${transport === 'oci' ? 'layout-dir:tag' : 'image.tar'}`);
  if (reference === '') throw new ChainError('BAD_INPUT', `"${arg}" ends with ":"; name the image after it or drop the colon`);
  return { transport, path, ...(reference !== undefined ? { reference } : {}) };
}

/** An image on disk, ready for loadImage/scanImage: the source, the reference to pass, and a name for reports. */
export interface LocalImage {
  transport: LocalTransport;
  source: ImageSource;
  /** A repository-like name: the archive's RepoTags repository, the tag's, or the file or directory name. */
  repository: string;
  /** What to resolve in the source (a tag or a digest). */
  reference: string;
}

/** A repository name from a file name: lowercase, other characters dashed (the grammar registries accept). */
function nameFrom(path: string): string {
  const base = basename(path.replace(/\/+$/, '')).replace(/\.(tar|oci|docker)$/i, '');
  const name = base
    .toLowerCase()
    .replace(/[^a-z0-9._/-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return name || 'image';
}

function repositoryOfTag(tag: string): string {
  const noDigest = tag.split('@')[0]!;
  const colon = noDigest.lastIndexOf(':');
  const repo = colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest;
  // skopeo writes fully qualified Docker Hub names; report them as `docker save` does.
  return repo.replace(/^docker\.io\/(library\/)?/, '');
}

export async function openLocalImage(transport: LocalTransport, path: string, reference?: string): Promise<LocalImage> {
  if (!existsSync(path)) throw new ChainError('NOT_FOUND', `${transport}: ${path} does not exist`);
  const isDir = statSync(path).isDirectory();
  if (transport === 'oci' && !isDir) throw new ChainError('BAD_INPUT', `oci:${path} is a file; an OCI layout is a directory (use oci-archive: for a tar file)`);
  if (transport !== 'oci' && isDir) throw new ChainError('BAD_INPUT', `${transport}:${path} is a directory; use oci:${path} for an OCI layout directory`);
  if (transport === 'docker-archive') {
    const source = await DockerArchiveSource.open(new TarFiles(path), reference);
    return { transport, source, repository: source.repoTag ? repositoryOfTag(source.repoTag) : nameFrom(path), reference: source.manifestDigest };
  }
  const layout = new OciLayoutSource(transport === 'oci' ? new DirFiles(path) : new TarFiles(path));
  const digest = layout.resolve(reference);
  const tagged = reference && !isDigest(reference) ? reference : undefined;
  return { transport, source: layout, repository: nameFrom(path), reference: tagged ?? digest };
}
