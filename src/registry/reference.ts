import { ChainError } from '../errors';
import { assertDigest } from './digest';

export interface ImageReference {
  /** host[:port] as written in the reference ("docker.io" when none is given). */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

// Grammar from the distribution reference package (reference/regexp.go).
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[\w][\w.-]{0,127}$/;

export function isRepositoryName(name: string): boolean {
  return name.length <= 255 && REPOSITORY.test(name);
}

export function assertRepository(name: string): string {
  if (!isRepositoryName(name)) throw new ChainError('BAD_INPUT', `"${name}" is not a valid repository name (lowercase path components separated by /)`);
  return name;
}

export function isTag(value: string): boolean {
  return TAG.test(value);
}

/**
 * Splits `host:port/repo/name:tag@sha256:…` like the Docker CLI does: the first path component is a
 * registry when it contains a dot or a colon or is "localhost"; otherwise the image is on Docker Hub.
 */
export function parseImageReference(ref: string): ImageReference {
  const input = ref.trim();
  if (input === '') throw new ChainError('BAD_INPUT', 'image reference is empty');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = assertDigest(rest.slice(at + 1), `digest of image reference "${ref}"`);
    rest = rest.slice(0, at);
  }
  let registry = 'docker.io';
  const slash = rest.indexOf('/');
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first;
      rest = rest.slice(slash + 1);
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isTag(tag)) throw new ChainError('BAD_INPUT', `tag "${tag}" of image reference "${ref}" is not valid`);
  }
  if (registry === 'docker.io' && !rest.includes('/')) rest = `library/${rest}`;
  if (!isRepositoryName(rest)) throw new ChainError('BAD_INPUT', `repository "${rest}" of image reference "${ref}" is not valid`);
  return { registry, repository: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** The tag cosign stores an artifact of `digest` under: `sha256-<hex>.sig`, `.att` or `.sbom`. */
export function cosignTag(digest: string, suffix: 'sig' | 'att' | 'sbom'): string {
  return `${fallbackReferrersTag(digest)}.${suffix}`;
}

/** The OCI 1.1 referrers tag schema: `<alg>-<hex>` of the subject's digest, hex cut to 64 characters. */
export function fallbackReferrersTag(digest: string): string {
  const [algorithm, hex] = assertDigest(digest).split(':') as [string, string];
  return `${algorithm}-${hex.slice(0, 64)}`;
}
