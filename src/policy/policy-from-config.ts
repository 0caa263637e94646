import { type Config } from '../config';
import { defaultPolicy } from './default-policy';
import { type LoadedPolicy, loadPolicyFile } from './policy-file';

/** The configured policy file, or the built-in enforcing policy when none is configured (`policy.mode: dry-run` to only report). */
export function policyFromConfig(config: Config): LoadedPolicy {
  return config.policy.file === undefined ? defaultPolicy(config.policy.mode) : loadPolicyFile(config.policy.file);
}
