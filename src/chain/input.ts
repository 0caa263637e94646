/**
 * What starts a chain: one manifest push (from any webhook format, reconciliation, the CLI or the
 * API), or a source build. One zod schema and its type, validated where input crosses a boundary.
 */
import { z } from 'zod';
import { buildRequestSchema } from './build-request';
import { digestSchema, repositorySchema, tagSchema } from '../registry';

/** One manifest push that starts (or joins) a delivery chain, whatever the sender's format. */
export const imagePushedSchema = z.strictObject({
  /** Name of the configured registry (config.registries[].name), not a host. */
  registry: z.string().min(1),
  repository: repositorySchema,
  digest: digestSchema,
  tags: z.array(tagSchema),
  mediaType: z.string().min(1).optional(),
  /** ISO-8601 time of the push as the sender reports it. */
  pushedAt: z.iso.datetime({ offset: true }),
  /** The webhook source (config.sources[].name) or `reconcile:<source>`. */
  source: z.string().min(1),
  /** The sender's id for this event, when it has one (deduplication of redeliveries). */
  deliveryId: z.string().min(1).max(200).optional(),
});

export type ImagePushed = z.infer<typeof imagePushedSchema>;

/**
 * The argument of the `deliveryChain` workflow: the push that started it, or for a source build
 * the build request, with an empty digest the build stage fills in.
 */
export const chainInputSchema = imagePushedSchema
  .extend({ digest: z.union([digestSchema, z.literal('')]), build: buildRequestSchema.optional() })
  .refine(
    (input) => (input.digest === '') === (input.build !== undefined),
    'a chain starts from a pushed digest or from a build request (with an empty digest), not both',
  );

export type ChainInput = z.infer<typeof chainInputSchema>;

/** What the `addTags` signal of a running chain or tag delivery carries. */
export interface AddTagsSignal {
  tags: string[];
}
