/** Severity ladder shared by findings and policy thresholds; NONE only appears in thresholds. */
export const FINDING_SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;
export type FindingSeverity = (typeof FINDING_SEVERITIES)[number];

export const THRESHOLDS = ['NONE', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type Threshold = (typeof THRESHOLDS)[number];

const RANK: Record<Threshold, number> = { NONE: 0, LOW: 1, MEDIUM: 2, HIGH: 3, CRITICAL: 4 };

/** True when `severity` is above the highest severity the threshold still accepts. */
export function exceeds(severity: Exclude<FindingSeverity, 'UNKNOWN'>, maximum: Threshold): boolean {
  return RANK[severity] > RANK[maximum];
}
