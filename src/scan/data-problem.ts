import { z } from 'zod';
import { type VulnerabilityDataProblem } from './types';

/** A VulnerabilityDataProblem where it is read back (a stored rescan, a decision record's facts). */
export const vulnerabilityDataProblemSchema = z.object({
  kind: z.enum(['empty', 'missing', 'stale']),
  ecosystem: z.string(),
  packages: z.number().int().nonnegative(),
  ageSeconds: z.number().optional(),
  maxAgeSeconds: z.number().optional(),
  message: z.string(),
}) satisfies z.ZodType<VulnerabilityDataProblem>;
