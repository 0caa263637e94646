/**
 * The one shape every VEX source is read into (OpenVEX, CycloneDX VEX, the policy's CVE allowlist),
 * so the gate, the rescan and the CLI apply them alike. Plain JSON: it travels in scan summaries,
 * gate facts and the rescan's Redis entries, and is validated at each of those boundaries.
 */
import { z } from 'zod';

export const VEX_STATUSES = ['not_affected', 'affected', 'fixed', 'under_investigation'] as const;
export type VexStatus = (typeof VEX_STATUSES)[number];

/** Statuses that take a finding out of the counts and the ceilings (a `not_affected` one only with a reason). */
export const SUPPRESSING_STATUSES: ReadonlySet<VexStatus> = new Set<VexStatus>(['not_affected', 'fixed']);

export const vexSourceSchema = z.object({
  format: z.enum(['openvex', 'cyclonedx', 'allowlist']),
  /** The document: its @id / serialNumber, file path, attestation layer or policy rule. */
  document: z.string().min(1),
  author: z.string().optional(),
  /** Key id of the trusted key that signed the attestation carrying it. */
  keyId: z.string().optional(),
});

export const vexProductSchema = z.object({
  /** Identifiers of the product: image digests (sha256:…), purls (pkg:oci/…@sha256%3A…, pkg:deb/…). */
  ids: z.array(z.string().min(1)).min(1),
  /** Components of the product the statement is about (purls); empty = the whole product. */
  subcomponents: z.array(z.string().min(1)).default([]),
});

export const vexStatementSchema = z.object({
  vulnerability: z.string().min(1),
  aliases: z.array(z.string()).default([]),
  status: z.enum(VEX_STATUSES),
  justification: z.string().optional(),
  impactStatement: z.string().optional(),
  actionStatement: z.string().optional(),
  /** Empty = every product (an allowlist entry). */
  products: z.array(vexProductSchema).default([]),
  /** Package names the statement is limited to (the allowlist's `packages`). */
  packages: z.array(z.string().min(1)).optional(),
  /** When the statement was made (statement, else document timestamp); the newest of one author wins. */
  timestamp: z.string().optional(),
  /** When it stops applying (ISO date-time). */
  expires: z.string().optional(),
  source: vexSourceSchema,
});

export type VexSource = z.infer<typeof vexSourceSchema>;
export type VexProduct = z.infer<typeof vexProductSchema>;
export type VexStatement = z.infer<typeof vexStatementSchema>;

/** A date (midnight UTC starting that day) or a date-time, as ms since the epoch; NaN when unreadable. */
export function instant(value: string): number {
  return Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
}
