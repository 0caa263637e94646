import { matchesAny } from './patterns';
import { type Sidecar } from './policy-schema';

/**
 * The allowlist entry that lets an injected sidecar through admission, if any. The pattern is
 * matched against `registry/repository`; a pinned entry also requires that exact digest.
 */
export function matchSidecar(sidecars: readonly Sidecar[], image: { registry: string; repository: string; digest?: string }): Sidecar | undefined {
  const name = `${image.registry}/${image.repository}`;
  return sidecars.find((s) => matchesAny(name, [s.image]) && (s.digest === undefined || s.digest === image.digest));
}
