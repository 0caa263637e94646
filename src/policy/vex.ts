/**
 * VEX in the gate: the image's attested statements, the policy's VEX documents and the rule's CVE
 * allowlist (each entry read as a `not_affected` statement with its reason and expiry) decide which
 * findings leave the verdict. The gate and every rescan call this same function; suppressed
 * findings stay in the decision with the statement that suppressed them.
 */
import { describeStatement, type VexStatement, vexOutcome } from '../scan';
import { type Suppression } from './decision';
import { type FindingFact } from './image-facts';
import { type PolicyRule } from './policy-schema';

const EXPIRY_NOTICE_MS = 7 * 86_400_000;

export interface VexPartition {
  /** Findings the vulnerability ceilings still apply to. */
  kept: FindingFact[];
  suppressed: Suppression[];
  warnings: string[];
}

/** The rule's allowlist entries as VEX statements: any product, the listed packages, the entry's expiry. */
export function allowlistStatements(rule: PolicyRule): VexStatement[] {
  return (rule.vulnerabilities?.allowlist ?? []).map((e) => ({
    vulnerability: e.id,
    aliases: [],
    status: 'not_affected' as const,
    impactStatement: e.reason,
    products: [],
    ...(e.packages ? { packages: e.packages } : {}),
    expires: e.expires,
    source: { format: 'allowlist' as const, document: `rule ${rule.name}` },
  }));
}

export function partitionByVex(findings: readonly FindingFact[], statements: readonly VexStatement[], imageDigest: string, now: Date): VexPartition {
  const out: VexPartition = { kept: [], suppressed: [], warnings: [] };
  if (statements.length === 0) return { ...out, kept: [...findings] };
  for (const f of findings) {
    const outcome = vexOutcome(f, statements, imageDigest, now);
    const subject = `${f.id} in ${f.package} ${f.version}`;
    const s = outcome.suppressedBy;
    if (!s) {
      out.kept.push(f);
      // An expired allowlist entry is named in the violation itself (rules/vulnerabilities).
      if (outcome.expired && outcome.expired.source.format !== 'allowlist')
        out.warnings.push(`${subject}: VEX statement ${describeStatement(outcome.expired)} has expired and no longer applies`);
      continue;
    }
    out.suppressed.push({
      id: f.id,
      aliases: f.aliases,
      package: f.package,
      version: f.version,
      severity: f.severity,
      reason: describeStatement(s),
      statement: s,
    });
    if (s.source.format === 'allowlist') {
      const left = Date.parse(s.expires!.length === 10 ? `${s.expires}T00:00:00Z` : s.expires!) - now.getTime();
      const soon = left < EXPIRY_NOTICE_MS ? ` (expires in ${Math.ceil(left / 3_600_000)}h)` : '';
      out.warnings.push(`${subject} accepted by allowlist until ${s.expires}${soon}: ${s.impactStatement}`);
    } else out.warnings.push(`${subject} suppressed: ${describeStatement(s)}`);
  }
  return out;
}
