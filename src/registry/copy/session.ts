import pLimit from 'p-limit';
import { ChainError } from '../../errors';
import { type Logger } from '../../log';
import { type FetchedManifest, type RegistryClient } from '../client';
import { blobsOf, childManifestsOf, type Descriptor, isManifestList } from '../manifest';
import { type BlobOutcome, type BlobRoute, transferBlob } from './blob-copy';
import { cancelled } from './cancelled';
import { type CopyProgress, ProgressTracker } from './progress';

/** HEAD requests for blob existence in flight at once. */
const EXISTENCE_CHECKS = 16;

export interface CopyImageOptions {
  source: RegistryClient;
  sourceRepo: string;
  target: RegistryClient;
  targetRepo: string;
  /** The image (manifest or index) to copy, by digest: what lands on the target has the same digest. */
  digest: string;
  /** Tags to point at the copied image on the target. */
  tags?: string[];
  /** Blobs transferred at once (default 6). */
  concurrency?: number;
  /** Also copy cosign .sig/.att/.sbom tags and OCI referrers (default true). */
  artifacts?: boolean;
  onProgress?: (progress: CopyProgress) => void;
  /** Aborts between blobs (the activity was cancelled). */
  signal?: AbortSignal;
  logger?: Logger;
}

export interface CopyResult {
  digest: string;
  blobsCopied: number;
  blobsMounted: number;
  blobsPresent: number;
  bytesCopied: number;
  manifestsPushed: number;
  manifestsPresent: number;
  /** Tags and digests of the signatures, attestations, SBOMs and referrers copied or merged. */
  artifacts: string[];
}

/** The shared state of one copy: where blobs go, which are done, what happened. */
export class CopySession {
  readonly result: CopyResult;
  readonly progress: ProgressTracker;
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly checks: ReturnType<typeof pLimit>;
  private readonly blobs = new Map<string, Promise<void>>();
  private readonly manifests = new Map<string, Promise<void>>();
  private readonly fetched = new Map<string, Promise<FetchedManifest>>();

  constructor(
    readonly route: BlobRoute,
    private readonly options: CopyImageOptions,
  ) {
    this.limit = pLimit(options.concurrency ?? 6);
    this.checks = pLimit(EXISTENCE_CHECKS);
    this.progress = new ProgressTracker(options.onProgress);
    this.result = {
      digest: options.digest,
      blobsCopied: 0,
      blobsMounted: 0,
      blobsPresent: 0,
      bytesCopied: 0,
      manifestsPushed: 0,
      manifestsPresent: 0,
      artifacts: [],
    };
  }

  get logger(): Logger | undefined {
    return this.options.logger;
  }

  /**
   * Copies a manifest and everything below it (platform manifests, config, layers), children and
   * blobs first, then the manifest — under `tag` when given, which stores it by digest as well. A
   * manifest the target already has is skipped whole: a registry only accepts a manifest once
   * everything it references is there.
   */
  copyManifest(digest: string, tag?: string): Promise<void> {
    let pending = this.manifests.get(digest);
    if (!pending) {
      pending = this.copyManifestOnce(digest, tag);
      this.manifests.set(digest, pending);
    }
    return pending;
  }

  /** A source manifest, fetched (and verified) once per session. */
  sourceManifest(digest: string): Promise<FetchedManifest> {
    let pending = this.fetched.get(digest);
    if (!pending) {
      pending = this.route.source.getManifest(this.route.sourceRepo, digest);
      this.fetched.set(digest, pending);
      pending.catch(() => this.fetched.delete(digest));
    }
    return pending;
  }

  /** Points `tag` on the target at `digest` (already copied) unless it points there already. */
  async tag(digest: string, tag: string): Promise<boolean> {
    const { target, targetRepo } = this.route;
    if ((await target.headManifest(targetRepo, tag))?.digest === digest) return false;
    const { bytes, mediaType } = await this.sourceManifest(digest);
    await target.putManifest(targetRepo, tag, bytes, mediaType);
    return true;
  }

  /**
   * Copies one blob at most once per session: an existence check (HEAD, cheap, many at once), then
   * a transfer within the concurrency limit if the target lacks it.
   */
  copyBlob(blob: Descriptor): Promise<void> {
    let pending = this.blobs.get(blob.digest);
    if (!pending) {
      this.progress.addBlob(blob.size);
      pending = (async () => {
        const present = await this.checks(() => this.route.target.hasBlob(this.route.targetRepo, blob.digest));
        const outcome: BlobOutcome = present
          ? 'present'
          : await this.limit(() => {
              this.checkAborted();
              return transferBlob(this.route, blob, this.progress, this.options.signal);
            });
        this.count(outcome, blob.size);
        this.progress.blobDone(blob.digest, blob.size, outcome === 'copied');
      })();
      this.blobs.set(blob.digest, pending);
    }
    return pending;
  }

  checkAborted(): void {
    const signal = this.options.signal;
    if (signal?.aborted) throw cancelled(this.options.digest, signal);
  }

  private async copyManifestOnce(digest: string, tag: string | undefined): Promise<void> {
    const { target, targetRepo } = this.route;
    this.checkAborted();
    // The target's HEAD and the source manifest overlap.
    const presence = target.headManifest(targetRepo, digest);
    presence.catch(() => undefined);
    const fetched = await this.sourceManifest(digest);
    if (await presence) {
      // A registry holds a manifest only once everything it references is there.
      this.blobsKnownPresent(fetched);
      this.result.manifestsPresent++;
      if (tag !== undefined) await this.tag(digest, tag);
      return;
    }
    const reference = tag ?? digest;
    // Try the push before any blob check: a registry refuses a manifest whose blobs it lacks
    // (MANIFEST_BLOB_UNKNOWN), so success proves every blob was there. A re-sync of layers the
    // target has costs one PUT instead of a HEAD per blob; a copy that must move bytes loses a
    // refused PUT, a few milliseconds.
    if (!isManifestList(fetched.manifest) && (await this.pushUnlessBlobsMissing(reference, fetched))) {
      this.blobsKnownPresent(fetched);
      return;
    }
    const blobs = blobsOf(fetched.manifest).map((blob) => this.copyBlob(blob));
    await Promise.all([...childManifestsOf(fetched.manifest).map((child) => this.copyManifest(child.digest)), ...blobs]);
    this.checkAborted();
    await target.putManifest(targetRepo, reference, fetched.bytes, fetched.mediaType);
    this.result.manifestsPushed++;
    this.progress.manifestPushed();
  }

  /** Counts the blobs of a manifest the target accepted or had as present, without asking again. */
  private blobsKnownPresent(fetched: FetchedManifest): void {
    for (const blob of blobsOf(fetched.manifest)) {
      if (this.blobs.has(blob.digest)) continue;
      this.blobs.set(blob.digest, Promise.resolve());
      this.progress.addBlob(blob.size);
      this.count('present', blob.size);
      this.progress.blobDone(blob.digest, blob.size, false);
    }
  }

  private async pushUnlessBlobsMissing(reference: string, fetched: FetchedManifest): Promise<boolean> {
    try {
      await this.route.target.putManifest(this.route.targetRepo, reference, fetched.bytes, fetched.mediaType);
    } catch (err) {
      const codes = ChainError.is(err) ? (err.details?.registryCodes as string[] | undefined) : undefined;
      // Some registries report a missing blob as an invalid manifest; the full copy's push says which.
      if (codes?.some((c) => c === 'MANIFEST_BLOB_UNKNOWN' || c === 'BLOB_UNKNOWN' || c === 'MANIFEST_INVALID')) return false;
      throw err;
    }
    this.result.manifestsPushed++;
    this.progress.manifestPushed();
    return true;
  }

  private count(outcome: BlobOutcome, size: number): void {
    if (outcome === 'present') this.result.blobsPresent++;
    else if (outcome === 'mounted') this.result.blobsMounted++;
    else {
      this.result.blobsCopied++;
      this.result.bytesCopied += size;
    }
  }
}
