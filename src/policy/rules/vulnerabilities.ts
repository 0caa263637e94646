import { type CheckResult } from '../decision';
import { type FindingFact } from '../image-facts';
import { type AllowlistEntry, type VulnerabilityRules } from '../policy-schema';
import { exceeds, FINDING_SEVERITIES, type Threshold } from '../severity';

const EXPIRY_NOTICE_MS = 7 * 86_400_000;

/** Findings above the fixable / unfixable ceiling, unless an unexpired allowlist entry accepts them. */
export function checkVulnerabilities(findings: readonly FindingFact[], rules: VulnerabilityRules, now: Date): CheckResult {
  const result: CheckResult = { violations: [], warnings: [] };
  for (const finding of sortFindings(findings)) {
    const ceiling: Threshold | undefined = finding.fixable ? rules.maxSeverity?.fixable : rules.maxSeverity?.unfixable;
    if (ceiling === undefined) continue;
    const severity = finding.severity === 'UNKNOWN' ? rules.unknownSeverityAs : finding.severity;
    if (!exceeds(severity, ceiling)) continue;

    const entries = rules.allowlist.filter((e) => entryCovers(e, finding));
    const active = entries.find((e) => expiresAt(e) > now.getTime());
    const subject = `${finding.id} in ${finding.package} ${finding.version}`;
    if (active) {
      const left = expiresAt(active) - now.getTime();
      const soon = left < EXPIRY_NOTICE_MS ? ` (expires in ${Math.ceil(left / 3_600_000)}h)` : '';
      result.warnings.push(`${subject} accepted by allowlist until ${active.expires}${soon}: ${active.reason}`);
      continue;
    }
    const expired = entries[0];
    const kind = finding.fixable ? 'fixable' : 'unfixable';
    const fix = finding.fixedVersion ? ` (fixed in ${finding.fixedVersion})` : finding.fixable ? ' (a fix exists)' : ' (no fix available)';
    const severityText = finding.severity === 'UNKNOWN' ? `UNKNOWN (counted as ${severity})` : severity;
    result.violations.push({
      rule: `vulnerabilities.${kind}`,
      message:
        `${severityText} ${subject}${fix} is above the ${kind} ceiling ${ceiling}` +
        (expired ? `; allowlist entry ${expired.id} expired on ${expired.expires} and no longer applies` : ''),
      evidence: {
        id: finding.id,
        aliases: finding.aliases,
        package: finding.package,
        version: finding.version,
        ecosystem: finding.ecosystem,
        severity: finding.severity,
        ceiling,
        ...(finding.fixedVersion !== undefined ? { fixedVersion: finding.fixedVersion } : {}),
        ...(expired ? { expiredAllowlistEntry: { id: expired.id, expires: expired.expires, reason: expired.reason } } : {}),
      },
    });
  }
  return result;
}

function entryCovers(entry: AllowlistEntry, finding: FindingFact): boolean {
  const id = entry.id.toUpperCase();
  const named = finding.id.toUpperCase() === id || finding.aliases.some((a) => a.toUpperCase() === id);
  return named && (entry.packages === undefined || entry.packages.includes(finding.package));
}

/** When an allowlist entry stops applying (ms since epoch); a bare date means 00:00 UTC on that day. */
export function expiresAt(entry: AllowlistEntry): number {
  return Date.parse(entry.expires.length === 10 ? `${entry.expires}T00:00:00Z` : entry.expires);
}

/** Most severe first, then by id and package, so decisions do not depend on scanner output order. */
function sortFindings(findings: readonly FindingFact[]): FindingFact[] {
  const rank = (f: FindingFact) => FINDING_SEVERITIES.indexOf(f.severity);
  return [...findings].sort((a, b) => rank(a) - rank(b) || cmp(a.id, b.id) || cmp(a.package, b.package) || cmp(a.version, b.version));
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
