import { type CheckResult } from '../decision';
import { byCodeUnits } from '../../scan';
import { type FindingFact, type VulnerabilityDataFacts } from '../image-facts';
import { type AllowlistEntry, type VulnerabilityRules } from '../policy-schema';
import { ObjectMemo } from '../object-memo';
import { exceeds, FINDING_SEVERITIES, type Threshold } from '../severity';

const EXPIRY_NOTICE_MS = 7 * 86_400_000;

/**
 * Findings above the fixable / unfixable ceiling, unless an unexpired allowlist entry accepts them;
 * and the OSV data they come from: none, missing for an ecosystem of the image, or stale fails the
 * check under `vulnerabilityData: require` (the findings of unchecked packages are unknown, not none).
 */
export function checkVulnerabilities(
  findings: readonly FindingFact[],
  rules: VulnerabilityRules,
  now: Date,
  data?: VulnerabilityDataFacts | null,
): CheckResult {
  const result: CheckResult = { violations: [], warnings: [] };
  if (data !== null) checkData(data, rules, result);
  // Only the findings above their ceiling are sorted (what the loop reports, in the same order): in a
  // fleet rescan, most of an image's 500 findings are not.
  const above = findings.filter((f) => ceilingOf(f, rules) !== undefined);
  for (const finding of sortFindings(above)) {
    if (rules.allowlist.length === 0) {
      result.violations.push(rememberedViolation(finding, rules));
      continue;
    }
    const entries = rules.allowlist.filter((e) => entryCovers(e, finding));
    const active = entries.find((e) => expiresAt(e) > now.getTime());
    if (active) {
      const left = expiresAt(active) - now.getTime();
      const soon = left < EXPIRY_NOTICE_MS ? ` (expires in ${Math.ceil(left / 3_600_000)}h)` : '';
      result.warnings.push(`${finding.id} in ${finding.package} ${finding.version} accepted by allowlist until ${active.expires}${soon}: ${active.reason}`);
      continue;
    }
    result.violations.push(violationOf(finding, rules, entries[0]));
  }
  return result;
}

type FindingViolation = CheckResult['violations'][number];

/**
 * Each finding's violation under a rule set without an allowlist (then it depends on the finding and
 * the rules alone; an allowlist entry's expiry depends on the time), remembered per rule set. Facts
 * are shared by every image with the same finding (findingFacts), so a fleet rescan builds each
 * violation once per loaded policy rather than once per image: about 150 an image in the rescan
 * bench, where every image is denied. Violations are never changed in place (evaluatePolicy copies
 * them with their rule's name).
 */
const remembered = new ObjectMemo<FindingFact, Array<{ rules: VulnerabilityRules; violation: FindingViolation }>>('violations by rule set');

function rememberedViolation(finding: FindingFact, rules: VulnerabilityRules): FindingViolation {
  // A policy's rules each have their rule set: a fact keeps one violation per rule set it was checked under.
  const known = remembered.get(finding);
  if (known !== undefined) for (const k of known) if (k.rules === rules) return k.violation;
  const violation = violationOf(finding, rules, undefined);
  // Bounded: a policy loaded anew (another rule set object) replaces the oldest.
  const next = known === undefined ? [] : known.length >= MAX_RULE_SETS ? known.slice(1) : known;
  next.push({ rules, violation });
  if (next !== known) remembered.set(finding, next);
  return violation;
}

/** Rule sets a fact remembers its violation under (a policy's rules with vulnerability ceilings, across reloads). */
const MAX_RULE_SETS = 8;

/** The violation of `finding`, above its ceiling; `expired`: the allowlist entry that named it and no longer applies. */
function violationOf(finding: FindingFact, rules: VulnerabilityRules, expired: AllowlistEntry | undefined): FindingViolation {
  const ceiling = ceilingOf(finding, rules)!;
  const severity = finding.severity === 'UNKNOWN' ? rules.unknownSeverityAs : finding.severity;
  const subject = `${finding.id} in ${finding.package} ${finding.version}`;
  const kind = finding.fixable ? 'fixable' : 'unfixable';
  const fixedIn = finding.fixedIn ? `source package ${finding.fixedIn.name} ${finding.fixedIn.version}` : finding.fixedVersion;
  const fix = fixedIn ? ` (fixed in ${fixedIn})` : finding.fixable ? ' (a fix exists)' : ' (no fix available)';
  const rated = finding.vendorSeverity ? ` (${finding.vendorSeverity.source}: ${finding.vendorSeverity.rating})` : '';
  const severityText = finding.severity === 'UNKNOWN' ? `UNKNOWN (counted as ${severity})` : `${severity}${rated}`;
  return {
    rule: `vulnerabilities.${kind}`,
    message:
      `${severityText} ${subject}${fix} is above the ${kind} ceiling ${ceiling}` +
      (expired ? `; allowlist entry ${expired.id} expired on ${expired.expires} and no longer applies` : ''),
    evidence: {
      id: finding.id,
      ...(finding.ids.length > 1 ? { ids: finding.ids } : {}),
      aliases: finding.aliases,
      package: finding.package,
      version: finding.version,
      ecosystem: finding.ecosystem,
      severity: finding.severity,
      ...(finding.vendorSeverity ? { vendorSeverity: finding.vendorSeverity } : {}),
      ...(finding.cvssScore !== undefined ? { cvssScore: finding.cvssScore } : {}),
      ceiling,
      ...(finding.fixedVersion !== undefined ? { fixedVersion: finding.fixedVersion } : {}),
      ...(expired ? { expiredAllowlistEntry: { id: expired.id, expires: expired.expires, reason: expired.reason } } : {}),
    },
  };
}

/** The ceiling `finding` is above (fixable or unfixable), or undefined when it is not above one (or is negligible and those are left out). */
function ceilingOf(finding: FindingFact, rules: VulnerabilityRules): Threshold | undefined {
  if (finding.negligible && !rules.includeNegligible) return undefined;
  const ceiling: Threshold | undefined = finding.fixable ? rules.maxSeverity?.fixable : rules.maxSeverity?.unfixable;
  if (ceiling === undefined) return undefined;
  const severity = finding.severity === 'UNKNOWN' ? rules.unknownSeverityAs : finding.severity;
  return exceeds(severity, ceiling) ? ceiling : undefined;
}

function checkData(data: VulnerabilityDataFacts | undefined, rules: VulnerabilityRules, result: CheckResult): void {
  const problems = data
    ? data.problems
    : [{ kind: 'unknown', ecosystem: '*', packages: 0, message: 'the scan does not say which OSV data it matched against; rescan the image' } as const];
  for (const p of problems) {
    const message = `vulnerability data: ${p.message}`;
    if (rules.vulnerabilityData === 'warn') {
      result.warnings.push(message);
      continue;
    }
    result.violations.push({
      rule: 'vulnerabilities.data',
      message,
      evidence: {
        kind: p.kind,
        ecosystem: p.ecosystem,
        packages: p.packages,
        ...('ageSeconds' in p && p.ageSeconds !== undefined ? { ageSeconds: p.ageSeconds } : {}),
        ...('maxAgeSeconds' in p && p.maxAgeSeconds !== undefined ? { maxAgeSeconds: p.maxAgeSeconds } : {}),
        ...(data ? { osvVersion: data.version, records: data.records } : {}),
      },
    });
  }
}

function entryCovers(entry: AllowlistEntry, finding: FindingFact): boolean {
  const id = entry.id.toUpperCase();
  const named = [finding.id, ...finding.ids, ...finding.aliases].some((a) => a.toUpperCase() === id);
  return named && (entry.packages === undefined || entry.packages.includes(finding.package));
}

/** When an allowlist entry stops applying (ms since epoch); a bare date means 00:00 UTC on that day. */
export function expiresAt(entry: AllowlistEntry): number {
  return Date.parse(entry.expires.length === 10 ? `${entry.expires}T00:00:00Z` : entry.expires);
}

/** Most severe first, then by id and package, so decisions do not depend on scanner output order. */
function sortFindings(findings: FindingFact[]): FindingFact[] {
  return findings.sort((a, b) => rank(a) - rank(b) || byCodeUnits(a.id, b.id) || byCodeUnits(a.package, b.package) || byCodeUnits(a.version, b.version));
}

const RANK = new Map<string, number>(FINDING_SEVERITIES.map((s, i) => [s, i]));
const rank = (f: FindingFact) => RANK.get(f.severity)!;
