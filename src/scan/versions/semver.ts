/** npm (SemVer 2.0) and Go module (v-prefixed SemVer, pseudo-versions, +incompatible) comparison. */
import semver from 'semver';
import { ChainError } from '../../errors';

function parse(version: string, scheme: string): semver.SemVer {
  const parsed = semver.parse(version, { loose: true });
  if (parsed === null) throw new ChainError('BAD_INPUT', `invalid ${scheme} version "${version}"`);
  return parsed;
}

export function compareSemver(a: string, b: string): number {
  return parse(a, 'semver').compare(parse(b, 'semver'));
}

/** Go versions: "v1.2.3", "v0.0.0-20230101000000-abcdef123456", "v2.0.0+incompatible", or "go1.21.5" for the stdlib. */
export function compareGo(a: string, b: string): number {
  return parse(goToSemver(a), 'Go').compare(parse(goToSemver(b), 'Go'));
}

function goToSemver(v: string): string {
  const stdlib = /^go(\d+)(?:\.(\d+))?(?:\.(\d+))?((?:rc|beta)\d+)?$/.exec(v);
  if (stdlib) return `${stdlib[1]}.${stdlib[2] ?? 0}.${stdlib[3] ?? 0}${stdlib[4] ? `-${stdlib[4]}` : ''}`;
  return v.replace(/^v/, '');
}
