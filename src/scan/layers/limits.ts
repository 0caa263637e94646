/** Bounds on what a layer may make the scanner do; exceeding one fails the scan with TOO_LARGE. */
export interface LayerLimits {
  /** Compressed size of one layer blob. */
  maxLayerBytes: number;
  /** Uncompressed tar size of one layer. */
  maxUncompressedBytes: number;
  /** Uncompressed / compressed, checked once past 1 MiB of output (zip-bomb guard). */
  maxCompressionRatio: number;
  /** Tar entries in the whole image. */
  maxEntries: number;
  maxPathLength: number;
  /** Largest file kept in memory for a cataloger (databases, manifests). */
  maxCaptureBytes: number;
  /** Largest file read in-stream by an inspector (binaries, archives). */
  maxInspectBytes: number;
}

export const DEFAULT_LAYER_LIMITS: LayerLimits = {
  maxLayerBytes: 4 * 1024 ** 3,
  maxUncompressedBytes: 16 * 1024 ** 3,
  maxCompressionRatio: 200,
  maxEntries: 2_000_000,
  maxPathLength: 4096,
  maxCaptureBytes: 64 * 1024 ** 2,
  maxInspectBytes: 512 * 1024 ** 2,
};
