import { type Config } from '../config/schema';
import { defaultPolicy } from './default-policy';
import { type LoadedPolicy, loadPolicyFile } from './policy-file';

/** The configured policy file, or the built-in dry-run baseline when none is configured. */
export function policyFromConfig(config: Config): LoadedPolicy {
  return config.policy.file === undefined ? defaultPolicy() : loadPolicyFile(config.policy.file);
}
