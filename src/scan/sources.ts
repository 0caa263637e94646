/**
 * Where an image says its packages come from: the package manager's configured repositories (apt,
 * apk) and the URLs recorded per package (npm lockfile `resolved`, pip `direct_url.json`). The
 * policy's trustedSources rule compares them with the hosts it allows.
 */
import { z } from 'zod';

export const SOURCE_ECOSYSTEMS = ['apt', 'apk', 'npm', 'pypi', 'go'] as const;

export const packageSourceSchema = z.object({
  ecosystem: z.enum(SOURCE_ECOSYSTEMS),
  url: z.string().min(1),
  /** The file that says so (/etc/apt/sources.list.d/x.sources, /app/package-lock.json…). */
  location: z.string().min(1),
  /** The package fetched from it, when the record is per package (npm, pip); absent for a repository the whole image uses. */
  package: z.string().optional(),
  version: z.string().optional(),
});

export type PackageSource = z.infer<typeof packageSourceSchema>;
