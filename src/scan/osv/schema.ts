/** The OSV record format (https://ossf.github.io/osv-schema/), validated at import; unknown fields pass through. */
import { z } from 'zod';

const event = z.union([
  z.strictObject({ introduced: z.string().min(1) }),
  z.strictObject({ fixed: z.string().min(1) }),
  z.strictObject({ last_affected: z.string().min(1) }),
  z.strictObject({ limit: z.string().min(1) }),
]);

export const osvSeveritySchema = z.looseObject({
  type: z.string(),
  score: z.string(),
});

export const osvRangeSchema = z.looseObject({
  type: z.enum(['SEMVER', 'ECOSYSTEM', 'GIT']),
  repo: z.string().optional(),
  events: z.array(event).min(1),
});

export const osvAffectedSchema = z.looseObject({
  package: z.looseObject({ ecosystem: z.string().min(1), name: z.string().min(1), purl: z.string().optional() }).optional(),
  severity: z.array(osvSeveritySchema).optional(),
  ranges: z.array(osvRangeSchema).optional(),
  versions: z.array(z.string()).optional(),
  ecosystem_specific: z.record(z.string(), z.unknown()).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});

export const osvRecordSchema = z.looseObject({
  schema_version: z.string().optional(),
  id: z.string().min(1),
  modified: z.string().min(1),
  published: z.string().optional(),
  withdrawn: z.string().optional(),
  aliases: z.array(z.string()).optional(),
  related: z.array(z.string()).optional(),
  upstream: z.array(z.string()).optional(),
  summary: z.string().optional(),
  details: z.string().optional(),
  severity: z.array(osvSeveritySchema).optional(),
  affected: z.array(osvAffectedSchema).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});

export type OsvRecord = z.infer<typeof osvRecordSchema>;
export type OsvAffected = z.infer<typeof osvAffectedSchema>;
export type OsvRange = z.infer<typeof osvRangeSchema>;
export type OsvEvent = z.infer<typeof event>;

/**
 * Parses one small record that reaches each object schema above. zod generates an object schema's parser on its first
 * parse; the CLI's startup snapshot (cli/snapshot.ts) calls this while it is built, so that a scan's import of its OSV
 * records does not generate them again at every start.
 */
export function warmOsvRecordSchema(): void {
  const severity = [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N' }];
  osvRecordSchema.parse({
    id: 'WARM-0',
    modified: '1970-01-01T00:00:00Z',
    aliases: [],
    severity,
    affected: [
      {
        package: { ecosystem: 'npm', name: 'warm' },
        severity,
        ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1' }, { last_affected: '1' }, { limit: '2' }] }],
        versions: ['0'],
        database_specific: {},
      },
    ],
    database_specific: {},
  });
}
