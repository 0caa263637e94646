/** Severity of an OSV record: computed CVSS v3.x/v4 base scores, else the database's own rating. */
import { Cvss3P0, Cvss3P1, Cvss4P0 } from 'ae-cvss-calculator';
import { type Severity } from '../types';
import { type OsvAffected, type OsvRecord } from './schema';

export interface RecordSeverity {
  severity: Severity;
  score?: number;
  vector?: string;
}

/** CVSS base score of a vector, undefined when the vector is not one we can compute. */
export function cvssBaseScore(vector: string): number | undefined {
  try {
    const calc = vector.startsWith('CVSS:4.0/') ? new Cvss4P0(vector) : vector.startsWith('CVSS:3.1/') ? new Cvss3P1(vector) : vector.startsWith('CVSS:3.0/') ? new Cvss3P0(vector) : undefined;
    const base = calc?.calculateScores().base;
    return typeof base === 'number' && Number.isFinite(base) ? base : undefined;
  } catch {
    return undefined;
  }
}

/** The qualitative rating of a CVSS score (same bands in v3 and v4). */
export function severityOfScore(score: number): Severity {
  if (score >= 9) return 'CRITICAL';
  if (score >= 7) return 'HIGH';
  if (score >= 4) return 'MEDIUM';
  return 'LOW';
}

const DATABASE_RATINGS: Record<string, Severity> = {
  CRITICAL: 'CRITICAL',
  HIGH: 'HIGH',
  IMPORTANT: 'HIGH',
  MODERATE: 'MEDIUM',
  MEDIUM: 'MEDIUM',
  LOW: 'LOW',
  NEGLIGIBLE: 'LOW',
  UNIMPORTANT: 'LOW',
};

function databaseRating(specific: Record<string, unknown> | undefined): Severity | undefined {
  const value = specific?.severity;
  return typeof value === 'string' ? DATABASE_RATINGS[value.toUpperCase()] : undefined;
}

export function recordSeverity(record: OsvRecord, affected?: OsvAffected): RecordSeverity {
  let best: RecordSeverity | undefined;
  for (const s of [...(record.severity ?? []), ...(affected?.severity ?? [])]) {
    if (!/^CVSS_V[34]$/.test(s.type)) continue;
    const score = cvssBaseScore(s.score);
    if (score !== undefined && (best?.score === undefined || score > best.score)) best = { severity: severityOfScore(score), score, vector: s.score };
  }
  if (best) return best;
  const rated = databaseRating(affected?.database_specific) ?? databaseRating(record.database_specific);
  return { severity: rated ?? 'UNKNOWN' };
}
