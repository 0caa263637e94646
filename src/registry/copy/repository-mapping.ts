import { ChainError } from '../../errors';
import { isRepositoryName } from '../reference';

export interface RepositoryMapping {
  /** Prepended verbatim after any rewrite, e.g. "mirror/" turns team/app into mirror/team/app. */
  repositoryPrefix: string;
  /** Leading-namespace rewrites, first match wins: { from: "team", to: "eu/team" } turns team/app into eu/team/app. */
  replace: Array<{ from: string; to: string }>;
}

/** The repository an image of `repository` lands in on a sync target. */
export function mapRepository(repository: string, mapping: RepositoryMapping): string {
  let mapped = repository;
  for (const { from, to } of mapping.replace) {
    const prefix = from.replace(/\/+$/, '');
    if (mapped === prefix || mapped.startsWith(`${prefix}/`)) {
      mapped = `${to.replace(/\/+$/, '')}${mapped.slice(prefix.length)}`.replace(/^\/+/, '');
      break;
    }
  }
  mapped = `${mapping.repositoryPrefix}${mapped}`;
  if (!isRepositoryName(mapped)) {
    throw new ChainError('CONFIG_INVALID', `sync mapping turns repository "${repository}" into "${mapped}", which is not a valid repository name`, {
      details: { repository, mapped },
    });
  }
  return mapped;
}
