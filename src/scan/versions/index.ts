/** Version comparison by ecosystem: the exact ordering each package manager uses. */
import { compareApk } from './apk';
import { compareDeb } from './dpkg';
import { compareMaven } from './maven';
import { comparePep440 } from './pep440';
import { compareRpm } from './rpm';
import { compareGo, compareSemver } from './semver';

export type VersionCompare = (a: string, b: string) => number;

const BY_ECOSYSTEM: Record<string, VersionCompare> = {
  Debian: compareDeb,
  Ubuntu: compareDeb,
  Alpine: compareApk,
  'Red Hat': compareRpm,
  'Rocky Linux': compareRpm,
  AlmaLinux: compareRpm,
  openSUSE: compareRpm,
  SUSE: compareRpm,
  Mageia: compareRpm,
  npm: compareSemver,
  PyPI: comparePep440,
  Go: compareGo,
  Maven: compareMaven,
};

/** The comparator of an OSV ecosystem ('Debian:12' uses Debian's); undefined when unsupported. */
export function comparatorFor(ecosystem: string): VersionCompare | undefined {
  return BY_ECOSYSTEM[baseEcosystem(ecosystem)];
}

/** 'Debian:12' → 'Debian', 'Alpine:v3.20' → 'Alpine'. */
export function baseEcosystem(ecosystem: string): string {
  const colon = ecosystem.indexOf(':');
  return colon >= 0 ? ecosystem.slice(0, colon) : ecosystem;
}

export { compareApk, compareDeb, compareGo, compareMaven, comparePep440, compareRpm, compareSemver };
