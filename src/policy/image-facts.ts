import { z } from 'zod';
import { FINDING_SEVERITIES } from './severity';

/**
 * Everything the policy looks at for one image: the scanner's findings and hygiene, where it comes
 * from, and which signatures and attestations were verified for it. Built from a scan summary by
 * `factsFromScan`; validated at every boundary (activity input, decision store, CLI).
 */
export const findingFactSchema = z.object({
  id: z.string().min(1),
  aliases: z.array(z.string()).default([]),
  package: z.string().min(1),
  version: z.string(),
  ecosystem: z.string(),
  severity: z.enum(FINDING_SEVERITIES),
  /** A version that fixes the finding exists. */
  fixable: z.boolean(),
  fixedVersion: z.string().optional(),
});

export const hygieneFactsSchema = z.object({
  setuidFiles: z.array(z.string()).default([]),
  setgidFiles: z.array(z.string()).default([]),
  shells: z.array(z.string()).default([]),
  networkTools: z.array(z.string()).default([]),
  /** The image config's USER; absent or '' means root. */
  user: z.string().optional(),
  sizeBytes: z.number().int().nonnegative(),
  layerCount: z.number().int().nonnegative(),
  /** 1 - wasted / written bytes, in [0, 1]. */
  efficiency: z.number().min(0).max(1),
  privateKeys: z.array(z.string()).default([]),
});

export const imageFactsSchema = z.object({
  registry: z.string().min(1),
  repository: z.string().min(1),
  digest: z.string().regex(/^sha(256|512):[a-f0-9]+$/, 'a sha256:<hex> digest'),
  scannedAt: z.iso.datetime({ offset: true }),
  findings: z.array(findingFactSchema),
  hygiene: hygieneFactsSchema,
  /** The image this one was built FROM, when known (from the build or the image's annotations). */
  baseImage: z.object({ reference: z.string().min(1), digest: z.string().optional() }).optional(),
  /** Key ids whose signatures over this digest verified. */
  signatures: z.array(z.object({ keyId: z.string().min(1) })).default([]),
  /** Verified in-toto attestations about this digest. */
  attestations: z.array(z.object({ predicateType: z.string().min(1), keyId: z.string().optional() })).default([]),
});

export type FindingFact = z.infer<typeof findingFactSchema>;
export type HygieneFacts = z.infer<typeof hygieneFactsSchema>;
export type ImageFacts = z.infer<typeof imageFactsSchema>;
export type ImageFactsInput = z.input<typeof imageFactsSchema>;
