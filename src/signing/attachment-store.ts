/**
 * Reads and appends to a cosign attachment manifest (`.sig` / `.att`). Registries have no
 * compare-and-swap on tags: read-modify-write is serialized per tag within this process, and
 * after writing we read back and merge again if another writer's manifest replaced ours. Two
 * processes writing the same tag at the same instant can still lose one signature, as with
 * cosign; the chain runs one workflow per digest, so its own writes never race.
 */
import { ChainError } from '../errors';
import {
  type AttachmentKind,
  type AttachmentLayer,
  attachmentLayers,
  attachmentManifest,
  attachmentTag,
  MAX_ATTACHMENT_LAYERS,
  OCI_MANIFEST_MEDIA_TYPE,
  sha256Digest,
} from './cosign-layout';
import { type SignatureRegistry } from './registry-port';

const WRITE_ATTEMPTS = 3;

export interface ExistingAttachments {
  /** Digest of the current attachment manifest, if there is one. */
  manifestDigest: string | undefined;
  layers: AttachmentLayer[];
}

/**
 * The layers under an image's `.sig` / `.att` tag (none when the tag does not exist). A tag holding
 * something else is a non-retryable REGISTRY_ERROR: never overwritten, reported by verification.
 */
export async function readAttachments(client: SignatureRegistry, repo: string, imageDigest: string, kind: AttachmentKind): Promise<ExistingAttachments> {
  const tag = attachmentTag(imageDigest, kind);
  const head = await client.headManifest(repo, tag);
  if (!head) return { manifestDigest: undefined, layers: [] };
  const { digest, bytes } = await client.getManifest(repo, tag);
  const layers = attachmentLayers(bytes);
  if (!layers) throw new ChainError('REGISTRY_ERROR', `${client.host}/${repo}:${tag} exists but is not a signature manifest`, { retryable: false });
  return { manifestDigest: digest, layers };
}

export interface AppendRequest {
  kind: AttachmentKind;
  /** The signed blob (simple-signing payload or DSSE envelope). */
  blob: Buffer;
  layer: Omit<AttachmentLayer, 'digest' | 'size'>;
  /** True when an existing layer already carries this signature (idempotency). */
  isDuplicate: (existing: AttachmentLayer) => Promise<boolean>;
  /**
   * True when an existing layer is an older version of this one (same statement type, same key,
   * other content) that the new layer replaces, as `cosign attest --replace` does.
   */
  supersedes?: (existing: AttachmentLayer) => Promise<boolean>;
}

export interface AppendResult {
  tag: string;
  layerDigest: string;
  manifestDigest: string;
  added: boolean;
}

/** Tail of the queue of writers per registry tag, in this process. */
const tagQueues = new Map<string, Promise<unknown>>();

export function appendAttachment(client: SignatureRegistry, repo: string, imageDigest: string, request: AppendRequest): Promise<AppendResult> {
  const key = `${client.host}/${repo}:${attachmentTag(imageDigest, request.kind)}`;
  const run = (tagQueues.get(key) ?? Promise.resolve()).catch(() => undefined).then(() => appendNow(client, repo, imageDigest, request));
  tagQueues.set(key, run);
  const forget = () => {
    if (tagQueues.get(key) === run) tagQueues.delete(key);
  };
  run.then(forget, forget);
  return run;
}

async function appendNow(client: SignatureRegistry, repo: string, imageDigest: string, request: AppendRequest): Promise<AppendResult> {
  const tag = attachmentTag(imageDigest, request.kind);
  const layer: AttachmentLayer = { ...request.layer, digest: sha256Digest(request.blob), size: request.blob.length };
  await client.uploadBlob(repo, layer.digest, request.blob, layer.size);
  for (let attempt = 1; ; attempt++) {
    const existing = await readAttachments(client, repo, imageDigest, request.kind);
    for (const candidate of existing.layers) {
      if (await request.isDuplicate(candidate)) {
        return { tag, layerDigest: candidate.digest, manifestDigest: existing.manifestDigest as string, added: false };
      }
    }
    const kept: AttachmentLayer[] = [];
    for (const candidate of existing.layers) if (!(request.supersedes && (await request.supersedes(candidate)))) kept.push(candidate);
    if (kept.length >= MAX_ATTACHMENT_LAYERS) {
      throw new ChainError('REGISTRY_ERROR', `${client.host}/${repo}:${tag} already holds ${kept.length} entries, the most cosign reads`, { retryable: false });
    }
    const { manifest, config, configDigest } = attachmentManifest([...kept, layer]);
    await client.uploadBlob(repo, configDigest, config, config.length);
    const manifestDigest = await client.putManifest(repo, tag, manifest, OCI_MANIFEST_MEDIA_TYPE);
    const after = await readAttachments(client, repo, imageDigest, request.kind);
    if (after.layers.some((l) => sameLayer(l, layer))) {
      return { tag, layerDigest: layer.digest, manifestDigest: after.manifestDigest ?? manifestDigest, added: true };
    }
    if (attempt >= WRITE_ATTEMPTS) {
      throw new ChainError('TRANSIENT', `${client.host}/${repo}:${tag} kept being replaced by concurrent writers; will retry`, {
        details: { attempts: attempt },
      });
    }
  }
}

function sameLayer(a: AttachmentLayer, b: AttachmentLayer): boolean {
  const keys = Object.keys(a.annotations);
  return (
    a.digest === b.digest &&
    a.mediaType === b.mediaType &&
    keys.length === Object.keys(b.annotations).length &&
    keys.every((k) => a.annotations[k] === b.annotations[k])
  );
}
