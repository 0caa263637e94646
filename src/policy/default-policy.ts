import { type LoadedPolicy, parsePolicy } from './policy-file';

/**
 * The policy used when none is configured, enforcing what the product promises: deny CRITICAL
 * findings, HIGH ones with a fix available (the distribution's rating where it has one; negligible
 * findings aside), and images matched against no, incomplete or stale vulnerability data; warn (a
 * dry-run rule: reported in the decision, never blocking) on root USER, setuid/setgid files, shells,
 * network tools and private keys. `policy.mode: dry-run` in the configuration makes it report only.
 */
export const DEFAULT_POLICY = {
  apiVersion: 'policy.delivery-chain.dev/v1',
  kind: 'ImagePolicy',
  metadata: { name: 'default', version: '2' },
  mode: 'enforce',
  rules: [
    {
      name: 'vulnerabilities',
      vulnerabilities: { maxSeverity: { fixable: 'MEDIUM', unfixable: 'HIGH' }, vulnerabilityData: 'require' },
    },
    {
      name: 'hygiene',
      mode: 'dry-run',
      hygiene: { forbidSetuid: true, forbidShells: true, forbidNetworkTools: true, requireNonRootUser: true, forbidPrivateKeys: true },
    },
  ],
} as const;

/** The built-in policy; `mode` overrides its policy-wide mode (the warning rule stays a warning). */
export function defaultPolicy(mode?: 'enforce' | 'dry-run'): LoadedPolicy {
  return parsePolicy(mode ? { ...DEFAULT_POLICY, mode } : DEFAULT_POLICY, 'built-in default policy');
}
