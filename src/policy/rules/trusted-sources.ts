import { type PackageSource } from '../../scan';
import { type CheckResult } from '../decision';
import { type TrustedSources } from '../policy-schema';

/** Violations listed per ecosystem before the rest are summed up in one. */
const MAX_LISTED = 20;

/**
 * Packages and repositories the image names that are not on the rule's list for their ecosystem.
 * An entry with a scheme is a URL prefix; one without is a host (`*.example.com` for subdomains).
 * A source whose host cannot be read (cdrom:, a bare path) is untrusted: nothing vouches for it.
 */
export function checkTrustedSources(sources: readonly PackageSource[], rules: TrustedSources): CheckResult {
  const result: CheckResult = { violations: [], warnings: [] };
  const listed = new Map<string, number>();
  for (const source of sources) {
    const allowed = rules[source.ecosystem];
    if (allowed === undefined || allowed.some((entry) => trusts(entry, source.url))) continue;
    const n = (listed.get(source.ecosystem) ?? 0) + 1;
    listed.set(source.ecosystem, n);
    if (n > MAX_LISTED) continue;
    const what = source.package
      ? `${source.ecosystem} package ${source.package}${source.version ? ` ${source.version}` : ''} comes from`
      : `${source.ecosystem} source`;
    result.violations.push({
      rule: `trustedSources.${source.ecosystem}`,
      message: `${what} ${source.url} (${source.location}), not a trusted source (${allowed.join(', ') || 'none allowed'})`,
      evidence: {
        ecosystem: source.ecosystem,
        url: source.url,
        location: source.location,
        ...(source.package ? { package: source.package } : {}),
        ...(source.version ? { version: source.version } : {}),
        allowed,
      },
    });
  }
  for (const [ecosystem, n] of listed) {
    if (n > MAX_LISTED)
      result.violations.push({
        rule: `trustedSources.${ecosystem}`,
        message: `… and ${n - MAX_LISTED} more ${ecosystem} sources not trusted`,
        evidence: { ecosystem, more: n - MAX_LISTED },
      });
  }
  return result;
}

export function trusts(entry: string, url: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry)) {
    const [u, e] = [url.toLowerCase(), entry.toLowerCase()];
    // https://registry.npmjs.org must not let https://registry.npmjs.org.evil.example through.
    return u.startsWith(e) && (e.endsWith('/') || u.length === e.length || '/?#'.includes(u[e.length]!));
  }
  const host = hostOf(url);
  if (host === undefined) return false;
  const want = entry.toLowerCase();
  return want.startsWith('*.') ? host.endsWith(want.slice(1)) : host === want;
}

/** The host of a URL, also of apt's `mirror+http://` and pip's `git+https://`; undefined when there is none. */
export function hostOf(url: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]+\]|[^/:?#]+)/i.exec(url);
  return m ? m[1]!.toLowerCase() : undefined;
}
