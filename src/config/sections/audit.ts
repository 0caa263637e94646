import { z } from 'zod';

export const auditConfigSchema = z
  .strictObject({
    /** Entries the stream keeps (older ones are trimmed by XADD MAXLEN). */
    maxEntries: z.number().int().positive().default(1_000_000),
    /** Also append every entry to this JSON Lines file (e.g. for a log shipper). */
    file: z.string().min(1).optional(),
  })
  .describe('The API audit trail: a Redis Stream and an optional JSON Lines file.');
export type AuditConfig = z.infer<typeof auditConfigSchema>;
