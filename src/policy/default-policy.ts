import { type LoadedPolicy, parsePolicy } from './policy-file';

/**
 * The policy used when none is configured: the baseline (no HIGH/CRITICAL fixable or
 * CRITICAL unfixable vulnerabilities, no setuid files, non-root USER) in dry-run mode, so a fresh
 * local stack records what it would block without blocking anything.
 */
export const DEFAULT_POLICY = {
  apiVersion: 'policy.delivery-chain.dev/v1',
  kind: 'ImagePolicy',
  metadata: { name: 'default', version: '1' },
  mode: 'dry-run',
  rules: [
    {
      name: 'baseline',
      vulnerabilities: { maxSeverity: { fixable: 'MEDIUM', unfixable: 'HIGH' } },
      hygiene: { forbidSetuid: true, requireNonRootUser: true, forbidPrivateKeys: true },
    },
  ],
} as const;

export function defaultPolicy(): LoadedPolicy {
  return parsePolicy(DEFAULT_POLICY, 'built-in default policy');
}
