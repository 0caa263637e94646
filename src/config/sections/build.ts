/**
 * The `build` section of the configuration: source builds with buildah, the rules that map pushed
 * Git refs to image tags, the staging repository built images are pushed to, and the Git webhook
 * sources. Defaults work locally without a file: no rules (pushes build nothing) and no Git sources.
 */
import { z } from 'zod';
import { BUILTIN_VARIABLES, namedGroups, templateVariables } from './build-template';
import { durationSchema } from '../duration';

const name = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes');

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

export const buildRuleSchema = z
  .strictObject({
    /** Regular expression over the full ref (refs/heads/…, refs/tags/…); named groups feed the templates. */
    ref: z.string().min(1).refine(compiles, 'a valid regular expression'),
    /** Optional regular expression the repository URL must match. */
    repository: z.string().min(1).refine(compiles, 'a valid regular expression').optional(),
    /** Image tags, e.g. `${tag}` or `main-${shortCommit}`. */
    tags: z.array(z.string().min(1)).min(1),
    /** Image repository in the staging registry; default build.staging.repository. */
    image: z.string().min(1).optional(),
    dockerfile: z.string().min(1).default('Dockerfile'),
    /** Build context inside the checkout. */
    context: z.string().min(1).default('.'),
    buildArgs: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a build argument name'), z.string()).default({}),
  })
  .superRefine((rule, ctx) => {
    const known = new Set<string>([...BUILTIN_VARIABLES, ...namedGroups(rule.ref)]);
    const templates = [...rule.tags.map((t, i) => ({ t, path: ['tags', i] })), ...(rule.image ? [{ t: rule.image, path: ['image'] }] : [])];
    for (const { t, path } of templates) {
      for (const v of templateVariables(t)) {
        if (!known.has(v))
          ctx.addIssue({ code: 'custom', path, message: `unknown variable \${${v}}: use a named group of ref or one of ${BUILTIN_VARIABLES.join(', ')}` });
      }
    }
  });

export const gitSourceSchema = z.strictObject({
  /** The webhook URL is POST /webhooks/git/<name>. */
  name,
  format: z.enum(['github', 'gitea', 'gitlab']),
  /** GitHub/Gitea: the webhook's HMAC secret; GitLab: the X-Gitlab-Token value. */
  secret: z.string().min(16, 'at least 16 characters'),
});

export const buildConfigSchema = z.strictObject({
  rules: z.array(buildRuleSchema).default([]),
  staging: z
    .strictObject({
      /** Configured registry name built images are pushed to. */
      registry: name.default('source'),
      /** Repository template; `${repo}` is the Git repository's name. */
      repository: z.string().min(1).default('builds/${repo}'),
    })
    .prefault({}),
  buildah: z
    .strictObject({
      /** Storage root of buildah (never the system store); default <dataDir>/buildah. */
      root: z.string().min(1).optional(),
      isolation: z.enum(['chroot', 'oci', 'rootless']).default('chroot'),
      storageDriver: z.enum(['vfs', 'overlay']).default('vfs'),
      /** Registries tried for short image names in FROM lines. */
      unqualifiedSearchRegistries: z.array(z.string().min(1)).default(['docker.io']),
      timeout: durationSchema.default('30m'),
    })
    .prefault({}),
  hardening: z
    .strictObject({
      stripSetuid: z.boolean().default(true),
      /** What a final image without a non-root USER gets: a warning in the result, or a refused build. */
      rootUser: z.enum(['warn', 'refuse']).default('warn'),
    })
    .prefault({}),
  /** The builder id recorded in SLSA provenance. */
  builderId: z.url().default('https://delivery-chain.dev/builder/buildah/v1'),
  gitSources: z.array(gitSourceSchema).default([]),
});

export type BuildConfig = z.infer<typeof buildConfigSchema>;
export type BuildRule = z.infer<typeof buildRuleSchema>;
export type StagingConfig = BuildConfig['staging'];
