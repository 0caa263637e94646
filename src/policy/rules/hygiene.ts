import { type CheckResult } from '../decision';
import { type HygieneFacts } from '../image-facts';
import { type HygieneRules } from '../policy-schema';
import { parseSize } from '../size';

/** Filesystem and config hygiene: setuid/setgid files, shells, network tools, keys, USER, size, efficiency. */
export function checkHygiene(h: HygieneFacts, rules: HygieneRules): CheckResult {
  const violations: CheckResult['violations'] = [];
  const paths = (rule: string, list: readonly string[], what: string) => {
    if (list.length === 0) return;
    const sorted = [...new Set(list)].sort();
    violations.push({ rule, message: `${what}: ${sorted.join(', ')}`, evidence: { paths: sorted } });
  };
  if (rules.forbidSetuid) paths('hygiene.setuid', [...h.setuidFiles, ...h.setgidFiles], 'setuid/setgid files present');
  if (rules.forbidShells) paths('hygiene.shells', h.shells, 'shells present');
  if (rules.forbidNetworkTools) paths('hygiene.networkTools', h.networkTools, 'network tools present');
  if (rules.forbidPrivateKeys) paths('hygiene.privateKeys', h.privateKeys, 'private keys present');
  if (rules.requireNonRootUser && runsAsRoot(h.user)) {
    const shown = h.user ? `USER ${h.user}` : 'no USER set';
    violations.push({ rule: 'hygiene.nonRootUser', message: `image runs as root (${shown})`, evidence: { user: h.user ?? '' } });
  }
  if (rules.maxSize !== undefined) {
    const maxBytes = parseSize(rules.maxSize);
    if (h.sizeBytes > maxBytes) {
      violations.push({
        rule: 'hygiene.maxSize',
        message: `image is ${h.sizeBytes} bytes, above the maximum ${maxBytes}`,
        evidence: { sizeBytes: h.sizeBytes, maxBytes },
      });
    }
  }
  if (rules.minEfficiency !== undefined && h.efficiency < rules.minEfficiency) {
    violations.push({
      rule: 'hygiene.minEfficiency',
      message: `layer efficiency ${h.efficiency.toFixed(3)} is below the minimum ${rules.minEfficiency}`,
      evidence: { efficiency: h.efficiency, minEfficiency: rules.minEfficiency, layerCount: h.layerCount },
    });
  }
  return { violations, warnings: [] };
}

/** USER unset, root or uid 0 (with or without a group) runs as root; `app:0` does not. */
export function runsAsRoot(user: string | undefined): boolean {
  const name = (user ?? '').split(':')[0]?.trim() ?? '';
  return name === '' || name === 'root' || /^0+$/.test(name);
}
