import { z } from 'zod';
import { modeSchema } from './policy-schema';

/** One broken rule: which check, under which policy rule, what was found. */
export const violationSchema = z.object({
  /** The check, e.g. vulnerabilities.fixable, hygiene.setuid, provenance.signatures. */
  rule: z.string(),
  /** The policy rule (by name) the check belongs to. */
  policyRule: z.string(),
  /** False when the policy rule runs in dry-run mode: reported, never blocking. */
  enforced: z.boolean(),
  message: z.string(),
  /** Machine-readable facts behind the message: CVE id, package, file paths, user… */
  evidence: z.record(z.string(), z.unknown()),
});

export const decisionSchema = z.object({
  allowed: z.boolean(),
  mode: modeSchema,
  image: z.object({ registry: z.string(), repository: z.string(), digest: z.string() }),
  violations: z.array(violationSchema),
  warnings: z.array(z.string()),
  policyVersion: z.string(),
  matchedRules: z.array(z.string()),
  evaluatedAt: z.string(),
});

export type Violation = z.infer<typeof violationSchema>;
export type Decision = z.infer<typeof decisionSchema>;

/** What a single check reports before it is tagged with its policy rule. */
export interface CheckResult {
  violations: Array<Pick<Violation, 'rule' | 'message' | 'evidence'>>;
  warnings: string[];
}
