/**
 * Bounds on what an image may make the scanner do. Exceeding one fails the scan with TOO_LARGE (a
 * permanent error: the chain ends blocked with the limit as its reason, it is not retried).
 */
export interface LayerLimits {
  /** Compressed size of one layer blob. */
  maxLayerBytes: number;
  /** Uncompressed tar size of one layer. */
  maxUncompressedBytes: number;
  /** Uncompressed tar size of all the image's layers together. */
  maxImageUncompressedBytes: number;
  /** Uncompressed / compressed, checked once past 1 GiB of output (zip-bomb guard). */
  maxCompressionRatio: number;
  /** Tar entries (files, directories, links) in the whole image. */
  maxEntries: number;
  maxPathLength: number;
  /** Largest package database (or other file a cataloger reads whole: manifests, os-release); a larger one fails the scan. */
  maxPackageDbBytes: number;
  /** Largest file read in-stream by an inspector (binaries, archives); larger ones are skipped. */
  maxInspectBytes: number;
  /** Largest image manifest or index document. */
  maxManifestBytes: number;
  /** Largest image config blob. */
  maxConfigBytes: number;
  /** Indexes followed below the reference scanned (an index whose child is an index is one level). */
  maxIndexDepth: number;
  /** Wall time of one scan, from the first manifest request to the catalogued packages. */
  maxScanSeconds: number;
  /** Resident set size of the scanning process; 0 turns the check off. Sampled while the scan runs. */
  maxRssBytes: number;
}

export const DEFAULT_LAYER_LIMITS: LayerLimits = {
  maxLayerBytes: 4 * 1024 ** 3,
  maxUncompressedBytes: 16 * 1024 ** 3,
  maxImageUncompressedBytes: 32 * 1024 ** 3,
  maxCompressionRatio: 200,
  maxEntries: 2_000_000,
  maxPathLength: 4096,
  maxPackageDbBytes: 64 * 1024 ** 2,
  maxInspectBytes: 512 * 1024 ** 2,
  maxManifestBytes: 4 * 1024 ** 2,
  maxConfigBytes: 8 * 1024 ** 2,
  maxIndexDepth: 2,
  // Under the scan activity's 30-minute start-to-close timeout, so a slow scan ends as a limit, not a retried timeout.
  maxScanSeconds: 20 * 60,
  maxRssBytes: 3 * 1024 ** 3,
};
