/**
 * Reading a VEX document of either format, with every problem named (`dchain vex check`, policy
 * loading, attestations). Never throws for bad content: callers decide whether a bad document is
 * an error (a file the policy names) or a reported problem (an attestation someone attached).
 */
import { type z } from 'zod';
import { cycloneDxProblems, cycloneDxStatements, cycloneDxVexSchema } from './cyclonedx';
import { OPENVEX_CONTEXT, openVexDocumentSchema, openVexStatements } from './openvex';
import { type VexSource, type VexStatement } from './statement';

export type VexFormat = 'openvex' | 'cyclonedx';

export type VexReadResult = { ok: true; format: VexFormat; statements: VexStatement[] } | { ok: false; format?: VexFormat; problems: string[] };

export interface VexReadOptions {
  /** Image digests of the attestation carrying the document (products of statements naming none). */
  subjectDigests?: readonly string[];
  /** Extra facts recorded with every statement (the key that signed the attestation). */
  source?: Omit<VexSource, 'format' | 'document' | 'author'>;
  /** Applies to every statement of the document (the policy's `expires` for a file). */
  expires?: string;
}

/** Detects the format by its markers (`@context` for OpenVEX, `bomFormat` for CycloneDX). */
export function readVexDocument(raw: unknown, origin: string, options: VexReadOptions = {}): VexReadResult {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, problems: ['(root): a VEX document is a JSON object'] };
  const obj = raw as Record<string, unknown>;
  const source = options.source ?? {};
  const withExpiry = (statements: VexStatement[]) => (options.expires ? statements.map((s) => ({ ...s, expires: options.expires })) : statements);
  if (typeof obj['@context'] === 'string' || 'statements' in obj) {
    const parsed = openVexDocumentSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, format: 'openvex', problems: issues(parsed.error.issues) };
    return { ok: true, format: 'openvex', statements: withExpiry(openVexStatements(parsed.data, source, options.subjectDigests)) };
  }
  if (obj.bomFormat !== undefined) {
    const parsed = cycloneDxVexSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, format: 'cyclonedx', problems: issues(parsed.error.issues) };
    const problems = cycloneDxProblems(parsed.data);
    if (problems.length) return { ok: false, format: 'cyclonedx', problems };
    return { ok: true, format: 'cyclonedx', statements: withExpiry(cycloneDxStatements(parsed.data, origin, source)) };
  }
  return { ok: false, problems: [`(root): neither OpenVEX (an "@context" of ${OPENVEX_CONTEXT}) nor CycloneDX VEX ("bomFormat": "CycloneDX")`] };
}

/** Parses JSON text first; a syntax error is a problem like any other. */
export function readVexText(text: string, origin: string, options: VexReadOptions = {}): VexReadResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    return { ok: false, problems: [`(root): not JSON (${(cause as Error).message})`] };
  }
  return readVexDocument(raw, origin, options);
}

function issues(list: readonly z.core.$ZodIssue[]): string[] {
  return list.map((issue) => {
    const path = issue.path.map(String).join('.') || '(root)';
    if (issue.code === 'unrecognized_keys') return `${path}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    if (issue.code === 'invalid_union')
      return `${path}: ${issue.message} (${issue.errors
        .flat()
        .map((e) => `${e.path.map(String).join('.') || 'value'}: ${e.message}`)
        .join(' / ')})`;
    return `${path}: ${issue.message}`;
  });
}
