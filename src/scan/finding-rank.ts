/**
 * The order findings are listed and kept in (matchPackages, a summary's first MAX_SUMMARY_FINDINGS):
 * one rank per severity, CRITICAL first, then the negligible findings of each severity after every
 * counted one. The matcher (groupHits, matchPackages) and the fleet's match cache (its per-rank
 * tallies and buckets) rank by this one table, where each kept a copy of its own.
 */
import { type Finding, type Severity, SEVERITIES } from './types';

/** The first negligible rank: ranks 0 to NEGLIGIBLE_RANK - 1 are counted severities. */
export const NEGLIGIBLE_RANK = SEVERITIES.length;
/** How many ranks there are (0 to RANKS - 1). */
export const RANKS = 2 * NEGLIGIBLE_RANK;

const BY_SEVERITY = Object.fromEntries(SEVERITIES.map((s, i) => [s, i])) as Record<Severity, number>;

export const severityRank = (severity: Severity, negligible: boolean | undefined): number => BY_SEVERITY[severity] + (negligible ? NEGLIGIBLE_RANK : 0);

export const findingRank = (f: Pick<Finding, 'severity' | 'negligible'>): number => severityRank(f.severity, f.negligible);
