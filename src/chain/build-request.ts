/**
 * What a source build's chain builds (BuildRequest): workflow input, validated again where it is used.
 * What the build hands the rest of the chain is src/source-build's BuiltImage.
 */
import { z } from 'zod';
import { ChainError } from '../errors';
import { digestSchema, repositorySchema, tagSchema } from '../registry';

export const commitSchema = z.string().regex(/^[a-f0-9]{40}([a-f0-9]{24})?$/, 'a full SHA-1 or SHA-256 commit id (lowercase hex)');

/**
 * A Git remote: https/http/ssh/git/file URLs, scp-like `user@host:path`, or an absolute path.
 * Passwords and tokens in the URL are refused: the URL ends up in workflow ids and history.
 */
export const repoUrlSchema = z
  .string()
  .min(1)
  .max(2048)
  .superRefine((value, ctx) => {
    if (/^(https?|ssh|git|file):\/\//.test(value)) {
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not a valid URL' });
        return;
      }
      if (url.password !== '' || (url.username !== '' && /^https?:$/.test(url.protocol))) {
        ctx.addIssue({
          code: 'custom',
          message:
            'credentials in the repository URL are refused (they would be stored in the workflow history); configure git credentials for the worker instead',
        });
      }
      return;
    }
    if (/^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/\s][^\s]*$/.test(value) || /^\/[^\0]*$/.test(value)) return;
    ctx.addIssue({ code: 'custom', message: 'a Git URL (https://, ssh://, git://, file://), user@host:path, or an absolute path' });
  });

/** A relative path inside the checkout (no `..`, not absolute). */
const checkoutPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'a relative path inside the repository, without ..');

export const buildRequestSchema = z.strictObject({
  repoUrl: repoUrlSchema,
  /** Full ref (refs/heads/main, refs/tags/v1) or a branch/tag name. */
  ref: z
    .string()
    .min(1)
    .max(512)
    .regex(/^[^\s~^:?*[\\]+$/, 'a Git ref name'),
  /** The commit to build; when absent, whatever the ref points to at clone time (recorded in the result). */
  commit: commitSchema.optional(),
  /** Configured registry name and repository the image is pushed to. */
  registry: z.string().min(1),
  repository: repositorySchema,
  /** Tags to push; none = `sha-<12 hex of the commit>`. */
  tags: z.array(tagSchema).default([]),
  dockerfile: checkoutPath.default('Dockerfile'),
  context: checkoutPath.default('.'),
  buildArgs: z.record(z.string(), z.string()).default({}),
  /** Who or what asked for the build: a Git webhook source name or `cli`. */
  source: z.string().min(1),
  pusher: z.string().max(256).optional(),
  /** Set when a rescan rebuilds a denied digest: the digest this build replaces (one rebuild each). */
  rebuildOf: digestSchema.optional(),
});

export type BuildRequest = z.infer<typeof buildRequestSchema>;
export type BuildRequestInput = z.input<typeof buildRequestSchema>;

export function parseBuildRequest(input: unknown): BuildRequest {
  const parsed = buildRequestSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ');
    throw new ChainError('BAD_INPUT', `invalid build request: ${problems}`);
  }
  return parsed.data;
}
