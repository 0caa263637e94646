import { z } from 'zod';
import { FINDING_SEVERITIES } from './severity';
import { packageSourceSchema, vexStatementSchema, vulnerabilityDataProblemSchema } from '../scan';

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
  /** Every advisory id grouped into the finding (the scanner groups aliases); empty in facts written before grouping. */
  ids: z.array(z.string()).default([]),
  /** The distribution's own rating, when it has one (`severity` is then that rating). */
  vendorSeverity: z.object({ source: z.string(), rating: z.string() }).optional(),
  cvssScore: z.number().optional(),
  /** Rated negligible by the distribution (Debian unimportant, Ubuntu negligible): outside ceilings unless the policy includes them. */
  negligible: z.boolean().default(false),
  /** The fix is a version of this (source) package, not of the installed one. */
  fixedIn: z.object({ name: z.string(), version: z.string() }).optional(),
  /** The package's purl, which VEX statements name products and subcomponents by. */
  purl: z.string().optional(),
});

/** What the scan says about the OSV data it matched against (see the scanner's OsvDataVersion). */
export const vulnerabilityDataFactsSchema = z.object({
  version: z.string(),
  records: z.number().int().nonnegative(),
  ageSeconds: z.number().nonnegative(),
  maxAgeSeconds: z.number().optional(),
  ecosystems: z.array(z.object({ ecosystem: z.string(), records: z.number(), updatedAt: z.string(), ageSeconds: z.number() })).default([]),
  problems: z.array(vulnerabilityDataProblemSchema).default([]),
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
  /** The OSV data the findings come from; absent = unknown, which a policy requiring vulnerability data denies. */
  vulnerabilityData: vulnerabilityDataFactsSchema.optional(),
  hygiene: hygieneFactsSchema,
  /** The image this one was built FROM, when known (from the build or the image's annotations). */
  baseImage: z.object({ reference: z.string().min(1), digest: z.string().optional() }).optional(),
  /** Key ids whose signatures over this digest verified. */
  signatures: z.array(z.object({ keyId: z.string().min(1) })).default([]),
  /** Verified in-toto attestations about this digest. */
  attestations: z.array(z.object({ predicateType: z.string().min(1), keyId: z.string().optional() })).default([]),
  /** VEX statements attested on the image by a trusted key (the policy's own VEX documents are added at evaluation). */
  vex: z.array(vexStatementSchema).default([]),
  /** Where the image says its packages come from (apt sources, apk repositories, npm resolved URLs…). */
  sources: z.array(packageSourceSchema).default([]),
});

export type FindingFact = z.infer<typeof findingFactSchema>;
export type VulnerabilityDataFacts = z.infer<typeof vulnerabilityDataFactsSchema>;
export type HygieneFacts = z.infer<typeof hygieneFactsSchema>;
export type ImageFacts = z.infer<typeof imageFactsSchema>;
export type ImageFactsInput = z.input<typeof imageFactsSchema>;
