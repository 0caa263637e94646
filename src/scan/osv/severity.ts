/** Severity of an OSV record: computed CVSS v3.x/v4 base scores, else the database's own rating. */
import { Cvss3P0, Cvss3P1, Cvss4P0 } from 'ae-cvss-calculator';
import { type Severity, type VendorSeverity } from '../types';
import { type OsvAffected, type OsvRecord } from './schema';

/** A record's severity for one affected entry, as findings carry it. */
export interface RecordSeverity {
  severity: Severity;
  score?: number;
  vector?: string;
  /** The CVSS band of `score`. */
  cvssSeverity?: Severity;
  vendor?: VendorSeverity;
  negligible?: boolean;
}

/** CVSS base score of a vector, undefined when the vector is not one we can compute. */
export function cvssBaseScore(vector: string): number | undefined {
  try {
    const calc = vector.startsWith('CVSS:4.0/')
      ? new Cvss4P0(vector)
      : vector.startsWith('CVSS:3.1/')
        ? new Cvss3P1(vector)
        : vector.startsWith('CVSS:3.0/')
          ? new Cvss3P0(vector)
          : undefined;
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

/** A distribution's rating: the severity it maps to, and whether the distribution deems it negligible. */
interface Rating {
  severity: Severity;
  negligible?: boolean;
}

/**
 * Debian security tracker urgencies (https://security-team.debian.org/security_tracker.html#severity-levels),
 * as OSV's Debian converter puts them in `affected[].ecosystem_specific.urgency`. "not yet assigned"
 * and "end-of-life" are no rating: CVSS decides. A trailing `*` (urgency not yet reviewed) is ignored.
 */
const DEBIAN_URGENCY: Record<string, Rating> = {
  unimportant: { severity: 'LOW', negligible: true },
  low: { severity: 'LOW' },
  medium: { severity: 'MEDIUM' },
  high: { severity: 'HIGH' },
};

/** Ubuntu priorities, in OSV as a `severity` entry of type "Ubuntu". "untriaged" is no rating. */
const UBUNTU_PRIORITY: Record<string, Rating> = {
  negligible: { severity: 'LOW', negligible: true },
  low: { severity: 'LOW' },
  medium: { severity: 'MEDIUM' },
  high: { severity: 'HIGH' },
  critical: { severity: 'CRITICAL' },
};

/** Red Hat's impact ratings, which Red Hat, Rocky Linux and AlmaLinux advisories put first in their summary ("Important: openssl security update"). */
const RED_HAT_IMPACT: Record<string, Rating> = {
  low: { severity: 'LOW' },
  moderate: { severity: 'MEDIUM' },
  important: { severity: 'HIGH' },
  critical: { severity: 'CRITICAL' },
};

const RED_HAT_FAMILY = new Set(['Red Hat', 'Rocky Linux', 'AlmaLinux']);
const SUSE_FAMILY = new Set(['SUSE', 'openSUSE']);

/** The distribution's own rating of the record for this package, where the ecosystem publishes one. */
export function vendorSeverity(record: OsvRecord, affected: OsvAffected | undefined, ecosystem: string): VendorSeverity | undefined {
  const base = ecosystem.split(':')[0]!;
  if (base === 'Debian') {
    const urgency = affected?.ecosystem_specific?.urgency;
    if (typeof urgency !== 'string') return undefined;
    const rating = urgency.trim().replace(/\*+$/, '').toLowerCase();
    const mapped = DEBIAN_URGENCY[rating];
    return mapped ? { source: 'Debian', rating, ...mapped } : undefined;
  }
  if (base === 'Ubuntu') {
    const entry = [...(affected?.severity ?? []), ...(record.severity ?? [])].find((s) => s.type === 'Ubuntu');
    const rating = entry?.score.trim().toLowerCase();
    const mapped = rating ? UBUNTU_PRIORITY[rating] : undefined;
    return mapped && rating ? { source: 'Ubuntu', rating, ...mapped } : undefined;
  }
  if (RED_HAT_FAMILY.has(base)) {
    const prefix = /^(Low|Moderate|Important|Critical):/i.exec(record.summary ?? '')?.[1];
    const fromDb = affected?.database_specific?.severity ?? record.database_specific?.severity;
    const rating = prefix ?? (typeof fromDb === 'string' ? fromDb : undefined);
    const mapped = rating ? RED_HAT_IMPACT[rating.toLowerCase()] : undefined;
    return mapped && rating ? { source: base, rating, ...mapped } : undefined;
  }
  if (SUSE_FAMILY.has(base) || base === 'Alpine' || base === 'Mageia') {
    const fromDb = affected?.ecosystem_specific?.severity ?? affected?.database_specific?.severity ?? record.database_specific?.severity;
    const mapped = typeof fromDb === 'string' ? DATABASE_RATINGS[fromDb.toUpperCase()] : undefined;
    return mapped && typeof fromDb === 'string'
      ? { source: base, rating: fromDb, severity: mapped, ...(/^(negligible|unimportant)$/i.test(fromDb) ? { negligible: true } : {}) }
      : undefined;
  }
  return undefined;
}

/** The record's highest computed CVSS base score, when it has a vector we can compute. */
function bestCvss(record: OsvRecord, affected?: OsvAffected): { score: number; vector: string } | undefined {
  let best: { score: number; vector: string } | undefined;
  for (const s of [...(record.severity ?? []), ...(affected?.severity ?? [])]) {
    if (!/^CVSS_V[34]$/.test(s.type)) continue;
    const score = cvssBaseScore(s.score);
    if (score !== undefined && (best === undefined || score > best.score)) best = { score, vector: s.score };
  }
  return best;
}

/**
 * Severity of a record for a package of `ecosystem`: the distribution's rating when it has one,
 * else the highest CVSS base score, else the database's own rating. CVSS stays reported beside it.
 */
export function recordSeverity(record: OsvRecord, affected?: OsvAffected, ecosystem = affected?.package?.ecosystem ?? ''): RecordSeverity {
  const cvss = bestCvss(record, affected);
  const cvssPart = cvss ? { score: cvss.score, vector: cvss.vector, cvssSeverity: severityOfScore(cvss.score) } : {};
  const vendor = vendorSeverity(record, affected, ecosystem);
  if (vendor) {
    const { negligible, ...rated } = vendor as VendorSeverity & { negligible?: boolean };
    return { severity: rated.severity, vendor: rated, ...cvssPart, ...(negligible ? { negligible: true } : {}) };
  }
  if (cvss) return { severity: severityOfScore(cvss.score), ...cvssPart };
  const rated = databaseRating(affected?.database_specific) ?? databaseRating(record.database_specific);
  return { severity: rated ?? 'UNKNOWN' };
}
