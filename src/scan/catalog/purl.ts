/** Package URLs per the purl specification (type-specific name normalisation and escaping). */
import { byCodeUnits } from '../code-unit-order';

const enc = (s: string) => encodeURIComponent(s).replace(/%3A/gi, ':');

function build(type: string, namespace: string | undefined, name: string, version: string, qualifiers: Record<string, string | undefined> = {}): string {
  const ns = namespace ? `${namespace.split('/').map(enc).join('/')}/` : '';
  const q = Object.entries(qualifiers)
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    .sort(([a], [b]) => byCodeUnits(a, b))
    .map(([k, v]) => `${k}=${enc(v)}`)
    .join('&');
  return `pkg:${type}/${ns}${enc(name)}@${enc(version)}${q ? `?${q}` : ''}`;
}

/**
 * pkg:deb/<distro>/<name>@<version>?arch=…&distro=…&upstream=<source>[@<source version>]: the source
 * package as syft writes it (its version only when it differs from the binary's, e.g. a binNMU or a
 * binary-only epoch), so SBOM consumers can match Debian's advisories, which name source packages.
 */
export function debPurl(
  distro: string,
  name: string,
  version: string,
  arch?: string,
  distroQualifier?: string,
  source?: { name: string; version: string },
): string {
  const upstream =
    source && (source.name !== name || source.version !== version)
      ? source.version === version
        ? source.name
        : `${source.name}@${source.version}`
      : undefined;
  return build('deb', distro, name, version, { arch, distro: distroQualifier, upstream });
}

export const apkPurl = (name: string, version: string, arch?: string, distroQualifier?: string) =>
  build('apk', 'alpine', name.toLowerCase(), version, { arch, distro: distroQualifier });

export function npmPurl(name: string, version: string): string {
  const scoped = /^(@[^/]+)\/(.+)$/.exec(name);
  return scoped ? build('npm', scoped[1]!, scoped[2]!, version) : build('npm', undefined, name, version);
}

export const pypiPurl = (name: string, version: string) => build('pypi', undefined, name.toLowerCase().replace(/[-_.]+/g, '-'), version);

export function golangPurl(modulePath: string, version: string): string {
  const parts = modulePath.split('/');
  const name = parts.pop()!;
  return build('golang', parts.join('/') || undefined, name, version);
}

export const mavenPurl = (groupId: string, artifactId: string, version: string) => build('maven', groupId, artifactId, version);

/** pkg:rpm/<vendor>/<name>@<version>-<release>?arch=…&epoch=…&distro=… (epoch only when non-zero, as rpm compares it). */
export const rpmPurl = (vendor: string | undefined, name: string, version: string, release: string, arch?: string, epoch?: number, distroQualifier?: string) =>
  build('rpm', vendor, name, `${version}-${release}`, { arch, epoch: epoch ? String(epoch) : undefined, distro: distroQualifier });
