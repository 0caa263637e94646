/** The `scan` section of the configuration. Defaults work offline: OSV records from <dataDir>/osv. */
import { z } from 'zod';
import { durationSchema } from '../duration';

export const DEFAULT_OSV_EXPORT = 'https://osv-vulnerabilities.storage.googleapis.com';

export const scanConfigSchema = z.strictObject({
  osv: z
    .strictObject({
      /** Directory of OSV JSON records and/or all.zip exports; default <dataDir>/osv. */
      directory: z.string().min(1).optional(),
      /** Download per-ecosystem all.zip exports (conditional requests) into <dataDir>/osv-cache. */
      download: z
        .strictObject({
          enabled: z.boolean().default(false),
          baseUrl: z.url({ protocol: /^https?$/ }).default(DEFAULT_OSV_EXPORT),
          ecosystems: z.array(z.string().min(1)).min(1).default(['Debian', 'Alpine', 'Ubuntu', 'Rocky Linux', 'AlmaLinux', 'npm', 'PyPI', 'Go', 'Maven']),
        })
        .prefault({}),
      /** A scan worker reloads (or downloads) the data in the background once it is this old. */
      maxAge: durationSchema.default('6h'),
    })
    .prefault({}),
  /** Layers streamed at the same time. */
  concurrency: z.number().int().min(1).max(16).default(3),
  /** What one image may make the scanner do (defaults in src/scan/layers/limits.ts); a scan over one ends the chain blocked. */
  limits: z
    .strictObject({
      maxLayerBytes: z.number().int().positive().optional(),
      /** Uncompressed bytes of one layer, and of all the image's layers. */
      maxUncompressedBytes: z.number().int().positive().optional(),
      maxImageUncompressedBytes: z.number().int().positive().optional(),
      maxCompressionRatio: z.number().positive().optional(),
      /** Tar entries (files, directories, links) in the whole image. */
      maxEntries: z.number().int().positive().optional(),
      maxPackageDbBytes: z.number().int().positive().optional(),
      maxManifestBytes: z.number().int().positive().optional(),
      maxConfigBytes: z.number().int().positive().optional(),
      maxIndexDepth: z.number().int().min(0).max(16).optional(),
      maxScanSeconds: z.number().int().positive().optional(),
      /** Resident memory of the scanning process while it scans; 0 turns the check off. */
      maxRssBytes: z.number().int().min(0).optional(),
    })
    .prefault({}),
});
