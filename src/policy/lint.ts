import { type LoadedPolicy } from './policy-file';
import { expiresAt } from './rules/vulnerabilities';

const SOON_MS = 14 * 86_400_000;

/** Things a valid policy probably did not mean: expired or expiring allowlist entries, rules that check nothing. */
export function lintPolicy(loaded: LoadedPolicy, now: Date): string[] {
  const warnings: string[] = [];
  for (const rule of loaded.policy.rules) {
    if (!rule.vulnerabilities && !rule.hygiene && !rule.provenance && !rule.trustedSources) warnings.push(`rule ${rule.name} checks nothing`);
    if (rule.vulnerabilities && !rule.vulnerabilities.maxSeverity) warnings.push(`rule ${rule.name}: vulnerabilities without maxSeverity checks nothing`);
    for (const entry of rule.vulnerabilities?.allowlist ?? []) {
      const expires = expiresAt(entry);
      if (expires <= now.getTime()) warnings.push(`rule ${rule.name}: allowlist entry ${entry.id} expired on ${entry.expires} and no longer applies`);
      else if (expires - now.getTime() < SOON_MS) warnings.push(`rule ${rule.name}: allowlist entry ${entry.id} expires on ${entry.expires}`);
    }
  }
  if (loaded.policy.mode === 'dry-run') warnings.push('mode is dry-run: decisions are recorded but nothing is blocked');
  return warnings;
}
