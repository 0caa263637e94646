/**
 * Build rules: which pushed refs build an image, and with which tags. The first rule whose ref
 * (and repository, when set) pattern matches wins; its templates see the pattern's named groups.
 */
import { ChainError } from '../errors';
import { type BuildRequest, parseBuildRequest } from '../chain';
import { type BuildRule, type StagingConfig } from '../config';
import { type SourcePushed } from './source-pushed';
import { expandTemplate, sanitizeRepositoryComponent, sanitizeTag } from './template';

/** The repository's name from its URL: `https://git.example/team/app.git` → `app`. */
export function repositoryName(repoUrl: string): string {
  const path = repoUrl
    .replace(/[?#].*$/, '')
    .replace(/\/+$/, '')
    .replace(/\.git$/, '');
  const name = path.split(/[/:]/).pop() ?? '';
  return sanitizeRepositoryComponent(name) || 'repository';
}

/** The branch or tag name of a full ref (refs/heads/main → main); other refs are returned whole. */
export function refName(ref: string): string {
  return ref.replace(/^refs\/(heads|tags)\//, '');
}

export function templateValues(
  push: Pick<SourcePushed, 'repoUrl' | 'ref' | 'commit'>,
  groups: Record<string, string | undefined> = {},
): Record<string, string> {
  const values: Record<string, string> = {
    commit: push.commit,
    shortCommit: push.commit.slice(0, 7),
    ref: push.ref,
    refName: refName(push.ref),
    repo: repositoryName(push.repoUrl),
  };
  for (const [name, value] of Object.entries(groups)) if (value !== undefined) values[name] = value;
  return values;
}

/** The staging repository for a push: the rule's `image` template or the staging default. */
export function stagingRepository(template: string, values: Record<string, string>): string {
  return expandTemplate(template, values)
    .split('/')
    .map(sanitizeRepositoryComponent)
    .filter((c) => c !== '')
    .join('/');
}

export function buildRequestFromPush(push: SourcePushed, rules: BuildRule[], staging: StagingConfig): BuildRequest | undefined {
  for (const rule of rules) {
    if (rule.repository !== undefined && !new RegExp(rule.repository).test(push.repoUrl)) continue;
    const match = new RegExp(rule.ref).exec(push.ref);
    if (!match) continue;
    const values = templateValues(push, match.groups ?? {});
    const tags = [
      ...new Set(
        rule.tags
          .map((t) => expandTemplate(t, values))
          .filter((t) => t !== '')
          .map(sanitizeTag),
      ),
    ];
    if (tags.length === 0) throw new ChainError('BAD_INPUT', `build rule ${rule.ref} gives ${push.ref} no tag`);
    return parseBuildRequest({
      repoUrl: push.repoUrl,
      ref: push.ref,
      commit: push.commit,
      registry: staging.registry,
      repository: stagingRepository(rule.image ?? staging.repository, values),
      tags,
      dockerfile: rule.dockerfile,
      context: rule.context,
      buildArgs: rule.buildArgs,
      source: push.source,
      ...(push.pusher ? { pusher: push.pusher } : {}),
    });
  }
  return undefined;
}
