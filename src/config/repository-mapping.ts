import { type SyncTargetConfig } from './schema';

/**
 * The repository an image lands in on a sync target: the first `replace` rule whose `from` is a
 * leading path segment prefix rewrites it, then `repositoryPrefix` is prepended.
 * e.g. { replace: [{ from: 'team-a', to: 'prod/team-a' }] }: team-a/api → prod/team-a/api.
 */
export function targetRepository(target: Pick<SyncTargetConfig, 'repositoryPrefix' | 'replace'>, repository: string): string {
  let mapped = repository;
  for (const rule of target.replace) {
    if (mapped === rule.from || mapped.startsWith(`${rule.from}/`)) {
      mapped = rule.to + mapped.slice(rule.from.length);
      break;
    }
  }
  return `${target.repositoryPrefix}${mapped}`.replace(/\/{2,}/g, '/');
}
