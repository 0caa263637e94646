import { type CheckResult, type Decision, type Suppression, type Violation } from './decision';
import { type ImageFacts } from './image-facts';
import { matchesAny } from './patterns';
import { ObjectMemo } from './object-memo';
import { type LoadedPolicy } from './policy-file';
import { type Mode, type PolicyRule } from './policy-schema';
import { checkHygiene } from './rules/hygiene';
import { checkProvenance } from './rules/provenance';
import { checkTrustedSources } from './rules/trusted-sources';
import { checkVulnerabilities } from './rules/vulnerabilities';
import { allowlistStatements, partitionByVex } from './vex';

export interface EvaluationContext {
  /** Kubernetes namespace at admission; rules selecting namespaces only apply when it matches. */
  namespace?: string;
}

/**
 * The gate's decision for one image: pure and deterministic (same facts, policy and `now` give the
 * same decision). Every matching rule applies; a violation of an `enforce` rule denies, a violation
 * of a `dry-run` rule is reported and recorded but lets the image through.
 */
/**
 * Each check's violation with its policy rule and whether it is enforced, remembered per violation:
 * checkVulnerabilities gives one violation object per finding across a fleet rescan (rememberedViolation),
 * so it is tagged once per rule rather than once per image (about 150 an image in the rescan bench).
 * Violations are never changed in place.
 */
const taggedViolations = new ObjectMemo<CheckResult['violations'][number], Violation>('tagged violation');

function tagged(v: CheckResult['violations'][number], policyRule: string, enforced: boolean): Violation {
  const known = taggedViolations.get(v);
  if (known !== undefined && known.policyRule === policyRule && known.enforced === enforced) return known;
  const made = { ...v, policyRule, enforced };
  taggedViolations.set(v, made);
  return made;
}

export function evaluatePolicy(facts: ImageFacts, loaded: LoadedPolicy, now: Date, context: EvaluationContext = {}): Decision {
  const { policy } = loaded;
  const matched = policy.rules.filter((rule) => ruleApplies(rule, facts, context));
  const violations: Violation[] = [];
  const warnings: string[] = [];
  const suppressed = new Map<string, Suppression>();
  if (matched.length === 0) warnings.push(`no rule of policy ${policy.metadata.name} selects ${facts.registry}/${facts.repository}; nothing was checked`);

  for (const rule of matched) {
    const mode: Mode = rule.mode ?? policy.mode;
    const results: CheckResult[] = [];
    if (rule.vulnerabilities) {
      // VEX first (attested, the policy's documents, this rule's allowlist): suppressed findings leave the ceilings.
      const vex = partitionByVex(facts.findings, [...facts.vex, ...(loaded.vex ?? []), ...allowlistStatements(rule)], facts.digest, now);
      for (const s of vex.suppressed) suppressed.set(`${s.id}\u0000${s.package}\u0000${s.version}`, s);
      results.push({ violations: [], warnings: vex.warnings }, checkVulnerabilities(vex.kept, rule.vulnerabilities, now, facts.vulnerabilityData));
    }
    if (rule.trustedSources) results.push(checkTrustedSources(facts.sources, rule.trustedSources));
    if (rule.hygiene) results.push(checkHygiene(facts.hygiene, rule.hygiene));
    if (rule.provenance) results.push(checkProvenance(facts, rule.provenance, now));
    const found = results.flatMap((r) => r.violations);
    for (const v of found) violations.push(tagged(v, rule.name, mode === 'enforce'));
    warnings.push(...results.flatMap((r) => r.warnings));
    if (mode === 'dry-run' && found.length) warnings.push(`dry-run: rule ${rule.name} would deny (${found.length} violation${found.length > 1 ? 's' : ''})`);
  }

  const enforcing = matched.length ? matched.some((r) => (r.mode ?? policy.mode) === 'enforce') : policy.mode === 'enforce';
  return {
    allowed: !violations.some((v) => v.enforced),
    mode: enforcing ? 'enforce' : 'dry-run',
    image: { registry: facts.registry, repository: facts.repository, digest: facts.digest },
    violations,
    warnings: [...new Set(warnings)],
    policyVersion: loaded.version,
    matchedRules: matched.map((r) => r.name),
    evaluatedAt: now.toISOString(),
    ...(suppressed.size ? { suppressed: [...suppressed.values()] } : {}),
  };
}

function ruleApplies(rule: PolicyRule, facts: ImageFacts, context: EvaluationContext): boolean {
  const { registries, repositories, namespaces } = rule.match;
  if (registries && !matchesAny(facts.registry, registries)) return false;
  if (repositories && !matchesAny(facts.repository, repositories)) return false;
  if (namespaces) return context.namespace !== undefined && matchesAny(context.namespace, namespaces);
  return true;
}

/** One line per violation, for logs, CLI output and failure messages. */
export function summarizeDecision(decision: Decision): string {
  const head = `${decision.allowed ? 'allowed' : 'denied'} ${decision.image.registry}/${decision.image.repository}@${decision.image.digest} (${decision.mode}, policy ${decision.policyVersion})`;
  return [
    head,
    ...decision.violations.map((v) => `  ${v.enforced ? '✗' : '!'} [${v.policyRule}/${v.rule}] ${v.message}`),
    ...(decision.suppressed ?? []).map((s) => `  ~ ${s.severity} ${s.id} in ${s.package} ${s.version} suppressed: ${s.reason}`),
    ...decision.warnings.map((w) => `  warning: ${w}`),
  ].join('\n');
}
