import { z } from 'zod';
import { modeSchema } from './policy-schema';
import { vexStatementSchema } from '../scan';

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

/** A finding a VEX statement (or an allowlist entry) took out of the verdict: still listed, with the statement. */
export const suppressionSchema = z.object({
  id: z.string(),
  aliases: z.array(z.string()).default([]),
  package: z.string(),
  version: z.string(),
  severity: z.string(),
  /** One line: status, justification, document, author, signer, expiry. */
  reason: z.string(),
  statement: vexStatementSchema,
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
  /** Findings suppressed by VEX statements or allowlist entries (absent in decisions made before VEX). */
  suppressed: z.array(suppressionSchema).optional(),
});

export type Violation = z.infer<typeof violationSchema>;
export type Decision = z.infer<typeof decisionSchema>;
export type Suppression = z.infer<typeof suppressionSchema>;

/** What a single check reports before it is tagged with its policy rule. */
export interface CheckResult {
  violations: Array<Pick<Violation, 'rule' | 'message' | 'evidence'>>;
  warnings: string[];
}
