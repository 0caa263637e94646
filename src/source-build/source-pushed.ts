import { z } from 'zod';
import { commitSchema, repoUrlSchema } from '../chain';

/** A Git push that may start a source build, whatever forge sent it. */
export const sourcePushedSchema = z.strictObject({
  repoUrl: repoUrlSchema,
  /** Full ref: refs/heads/<branch> or refs/tags/<tag>. */
  ref: z.string().regex(/^refs\/[^\s~^:?*[\\]+$/, 'a full ref such as refs/heads/main'),
  commit: commitSchema,
  pusher: z.string().max(256).optional(),
  /** The Git webhook source (config.build.gitSources[].name) or `cli`. */
  source: z.string().min(1),
});

export type SourcePushed = z.infer<typeof sourcePushedSchema>;
