/**
 * The audit trail: one entry per state-changing API request and per refusal — who (token id and
 * name), action, resource, outcome, reason, request id, time. Append-only: a Redis Stream (XADD,
 * trimmed to the configured retention with MAXLEN) plus, optionally, a JSON Lines file. Entries are
 * built from fields the API chose, never from request bodies or headers, so no secret reaches them.
 */
import { appendFile } from 'node:fs/promises';
import { type Redis } from 'ioredis';
import { z } from 'zod';
import { ChainError } from '../errors';
import { type AuditConfig } from '../config';

export const AUDIT_STREAM = 'dchain:audit';

export const auditOutcomeSchema = z.enum(['success', 'failure', 'denied', 'unauthenticated']);
export const auditEntrySchema = z.strictObject({
  /** The stream id (`<ms>-<seq>`): the cursor of listings. */
  id: z.string(),
  time: z.iso.datetime(),
  requestId: z.string(),
  /** Absent when no token authenticated (no token, a malformed or unknown one). */
  tokenId: z.string().optional(),
  tokenName: z.string().optional(),
  action: z.string(),
  resource: z.string(),
  outcome: auditOutcomeSchema,
  /** The HTTP status answered. */
  status: z.number().int(),
  reason: z.string(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;
export type NewAuditEntry = Omit<AuditEntry, 'id' | 'time'> & { time?: string };

export interface AuditFilter {
  /** Token id or name. */
  actor?: string;
  /** Exact action, or a prefix ending in `*` (`chain:*`). */
  action?: string;
  /** Exact resource, or a prefix ending in `*`. */
  resource?: string;
  since?: Date;
}

function matches(value: string | undefined, pattern: string | undefined): boolean {
  if (pattern === undefined) return true;
  if (value === undefined) return false;
  return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : value === pattern;
}

export class AuditLog {
  constructor(
    private readonly redis: Redis,
    private readonly config: AuditConfig,
  ) {}

  /** Appends an entry; throws when the stream is unreachable (the API then answers 503: no unaudited change). */
  async append(entry: NewAuditEntry): Promise<AuditEntry> {
    const time = entry.time ?? new Date().toISOString();
    const { time: _t, ...fields } = entry;
    const body = JSON.stringify({ time, ...fields });
    // Exact trimming: the retention is what the setting says (audit volume is small; `~` would keep up to a node more).
    const id = await this.redis.xadd(AUDIT_STREAM, 'MAXLEN', String(this.config.maxEntries), '*', 'entry', body);
    if (id === null) throw new ChainError('INTERNAL', 'the audit stream refused an entry');
    const written = { id, time, ...fields } as AuditEntry;
    if (this.config.file) await appendFile(this.config.file, `${JSON.stringify(written)}\n`, { mode: 0o600 });
    return written;
  }

  /**
   * Entries newest first, filtered, at most `limit`, starting after `cursor` (an entry id from the
   * previous page). `next` is set when more may follow.
   */
  async list(filter: AuditFilter, options: { limit: number; cursor?: string }): Promise<{ entries: AuditEntry[]; next?: string }> {
    if (options.cursor !== undefined && !/^\d+-\d+$/.test(options.cursor))
      throw new ChainError('BAD_INPUT', `cursor "${options.cursor}" is not an audit entry id`);
    const entries: AuditEntry[] = [];
    let end = options.cursor === undefined ? '+' : `(${options.cursor}`;
    const start = filter.since ? String(filter.since.getTime()) : '-';
    for (;;) {
      const batch = await this.redis.xrevrange(AUDIT_STREAM, end, start, 'COUNT', 500);
      for (const [id, fields] of batch) {
        const entry = parseEntry(id, fields);
        if (!entry) continue;
        if (!(matches(entry.tokenId, filter.actor) || matches(entry.tokenName, filter.actor))) continue;
        if (!matches(entry.action, filter.action) || !matches(entry.resource, filter.resource)) continue;
        entries.push(entry);
        if (entries.length === options.limit) return { entries, next: id };
      }
      if (batch.length < 500) return { entries };
      end = `(${(batch[batch.length - 1] as [string, string[]])[0]}`;
    }
  }
}

function parseEntry(id: string, fields: string[]): AuditEntry | undefined {
  const raw = fields[fields.indexOf('entry') + 1];
  if (raw === undefined) return undefined;
  const parsed = auditEntrySchema.safeParse({ ...(JSON.parse(raw) as object), id });
  return parsed.success ? parsed.data : undefined;
}
