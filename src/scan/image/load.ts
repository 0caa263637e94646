/** Streams every layer of an image into one final filesystem view. */
import pLimit from 'p-limit';
import { FileTree } from '../fs/tree';
import { type CapturePolicy } from '../layers/capture';
import { type LayerStats } from '../layers/decompress';
import { type ScanGuard } from '../layers/guard';
import { DEFAULT_LAYER_LIMITS, type LayerLimits } from '../layers/limits';
import { readLayer, type LayerReadResult } from '../layers/read-layer';
import { readLayerFile } from '../layers/read-layer-file';
import { type ImageConfig, type ImageManifestDoc, type ImageSource, type Platform, resolveImage } from './source';

export interface LayerProgress {
  index: number;
  count: number;
  digest: string;
  /** Compressed bytes read so far and the layer's size. */
  bytes: number;
  size: number;
  done: boolean;
}

export interface LoadImageOptions {
  policy: CapturePolicy;
  limits?: Partial<LayerLimits>;
  platform?: Platform;
  /** Layers read at the same time (applied in order afterwards). */
  concurrency?: number;
  onProgress?: (p: LayerProgress) => void;
  /** Stops the layer streams when the scan's time or memory limit is reached. */
  guard?: ScanGuard;
}

export interface LoadedImage {
  repository: string;
  /** Digest of what was asked for (an index or a manifest). */
  digest: string;
  manifest: ImageManifestDoc;
  config: ImageConfig;
  tree: FileTree;
  layers: { digest: string; size: number; stats: LayerStats }[];
  refused: (LayerReadResult['refused'][number] & { layer: string })[];
}

export async function loadImage(source: ImageSource, repository: string, reference: string, opts: LoadImageOptions): Promise<LoadedImage> {
  const limits = { ...DEFAULT_LAYER_LIMITS, ...opts.limits };
  const { digest, manifest, config } = await resolveImage(source, repository, reference, opts.platform, limits);
  const entryBudget = { remaining: limits.maxEntries };
  const imageBytes = { total: 0 };
  const limit = pLimit(opts.concurrency ?? 3);
  const count = manifest.layers.length;
  const results = await Promise.all(
    manifest.layers.map((layer, index) =>
      limit(async () => {
        const report = (bytes: number, done: boolean) => opts.onProgress?.({ index, count, digest: layer.digest, bytes, size: layer.size, done });
        opts.guard?.throwIfStopped();
        report(0, false);
        const readOpts = { index, digest: layer.digest, limits, policy: opts.policy, entryBudget, imageBytes, onBytes: (b: number) => report(b, false) };
        const file = await source.blobFile?.(repository, layer.digest);
        let result: LayerReadResult;
        if (file) result = await readLayerFile(file, { ...readOpts, throwIfStopped: () => opts.guard?.throwIfStopped() });
        else {
          const blob = await source.blobStream(repository, layer.digest);
          opts.guard?.track(blob);
          result = await readLayer(blob, readOpts);
        }
        report(result.stats.compressedBytes, true);
        return result;
      }),
    ),
  );
  const tree = new FileTree();
  for (const r of results) tree.apply(r.changes);
  return {
    repository,
    digest,
    manifest,
    config,
    tree,
    layers: results.map((r, i) => ({ digest: manifest.layers[i]!.digest, size: manifest.layers[i]!.size, stats: r.stats })),
    refused: results.flatMap((r) => r.refused.map((x) => ({ ...x, layer: r.changes.digest }))),
  };
}
