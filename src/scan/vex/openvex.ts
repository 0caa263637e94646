/**
 * OpenVEX documents (https://github.com/openvex/spec, v0.2.0 JSON schema; the v0.0.x forms still in
 * use are accepted too: a vulnerability or product given as a bare string, a version as "1").
 * Validation is strict as the spec's schema is (unknown fields are named), and the spec's rules the
 * schema carries as conditions are checked: `not_affected` needs a justification or an impact
 * statement, `affected` an action statement.
 */
import { z } from 'zod';
import { type VexProduct, type VexSource, type VexStatement, VEX_STATUSES } from './statement';

export const OPENVEX_CONTEXT = 'https://openvex.dev/ns';
/** in-toto predicate type of an OpenVEX attestation (cosign attest --type openvex). */
export const OPENVEX_PREDICATE_TYPE = 'https://openvex.dev/ns';

export const OPENVEX_JUSTIFICATIONS = [
  'component_not_present',
  'vulnerable_code_not_present',
  'vulnerable_code_not_in_execute_path',
  'vulnerable_code_cannot_be_controlled_by_adversary',
  'inline_mitigations_already_exist',
] as const;

const dateTime = z.iso.datetime({ offset: true, local: false });
const hashes = z.record(z.string(), z.string().min(1));
const identifiers = z.strictObject({ purl: z.string().min(1).optional(), '@cpe22': z.string().optional(), '@cpe23': z.string().optional() });
const subcomponent = z.union([
  z.string().min(1),
  z.strictObject({ '@id': z.string().min(1).optional(), identifiers: identifiers.optional(), hashes: hashes.optional() }),
]);
const component = z.union([
  z.string().min(1),
  z.strictObject({
    '@id': z.string().min(1).optional(),
    identifiers: identifiers.optional(),
    hashes: hashes.optional(),
    subcomponents: z.array(subcomponent).optional(),
  }),
]);
const vulnerability = z.union([
  z.string().min(1),
  z.strictObject({ '@id': z.string().optional(), name: z.string().min(1), description: z.string().optional(), aliases: z.array(z.string().min(1)).optional() }),
]);
const version = z.union([z.number().int().min(1), z.string().regex(/^[1-9]\d*$/, 'a positive integer')]);

const statementSchema = z
  .strictObject({
    '@id': z.string().optional(),
    version: version.optional(),
    vulnerability,
    timestamp: dateTime.optional(),
    last_updated: dateTime.optional(),
    products: z.array(component).optional(),
    /** v0.0.x: subcomponents beside the products. */
    subcomponents: z.array(subcomponent).optional(),
    status: z.enum(VEX_STATUSES),
    supplier: z.string().optional(),
    status_notes: z.string().optional(),
    justification: z.enum(OPENVEX_JUSTIFICATIONS).optional(),
    impact_statement: z.string().min(1).optional(),
    action_statement: z.string().min(1).optional(),
    action_statement_timestamp: dateTime.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.status === 'not_affected' && s.justification === undefined && s.impact_statement === undefined) {
      ctx.addIssue({ code: 'custom', path: ['justification'], message: 'a not_affected statement needs a justification or an impact_statement' });
    }
    if (s.status === 'affected' && s.action_statement === undefined) {
      ctx.addIssue({ code: 'custom', path: ['action_statement'], message: 'an affected statement needs an action_statement' });
    }
  });

export const openVexDocumentSchema = z.strictObject({
  '@context': z.string().refine((c) => c.startsWith(OPENVEX_CONTEXT), `an OpenVEX context (${OPENVEX_CONTEXT}/v0.2.0)`),
  '@id': z.string().min(1),
  author: z.string().min(1),
  role: z.string().optional(),
  timestamp: dateTime,
  last_updated: dateTime.optional(),
  version,
  tooling: z.string().optional(),
  supplier: z.string().optional(),
  statements: z.array(statementSchema).min(1),
});

export type OpenVexDocument = z.infer<typeof openVexDocumentSchema>;
type Component = z.infer<typeof component>;
type Subcomponent = z.infer<typeof subcomponent>;

/** A component's identifiers: @id, purl, and its sha256 hash as an image digest. */
function ids(c: Component | Subcomponent): string[] {
  if (typeof c === 'string') return [c];
  const sha = c.hashes?.['sha-256'];
  return [c['@id'], c.identifiers?.purl, sha ? `sha256:${sha.replace(/^sha256:/, '').toLowerCase()}` : undefined].filter((v): v is string => v !== undefined);
}

/**
 * The document's statements in the common shape. `subjectDigests`: the in-toto subjects of the
 * attestation carrying it, which become the product of statements that name none (the spec's
 * inheritance rule); a statement without products outside an attestation names nothing and is dropped.
 */
export function openVexStatements(
  doc: OpenVexDocument,
  source: Omit<VexSource, 'format' | 'document' | 'author'>,
  subjectDigests: readonly string[] = [],
): VexStatement[] {
  const out: VexStatement[] = [];
  for (const s of doc.statements) {
    const subs = (s.subcomponents ?? []).flatMap(ids);
    let products: VexProduct[] = (s.products ?? []).map((p) => ({
      ids: ids(p),
      subcomponents: [...(typeof p === 'string' ? [] : (p.subcomponents ?? []).flatMap(ids)), ...subs],
    }));
    products = products.filter((p) => p.ids.length > 0);
    if (products.length === 0) {
      if (subjectDigests.length === 0) continue;
      products = [{ ids: [...subjectDigests], subcomponents: subs }];
    }
    const vuln =
      typeof s.vulnerability === 'string' ? { name: s.vulnerability, aliases: [] } : { name: s.vulnerability.name, aliases: s.vulnerability.aliases ?? [] };
    out.push({
      vulnerability: vuln.name,
      aliases: vuln.aliases,
      status: s.status,
      ...(s.justification ? { justification: s.justification } : {}),
      ...(s.impact_statement ? { impactStatement: s.impact_statement } : {}),
      ...(s.action_statement ? { actionStatement: s.action_statement } : {}),
      products,
      timestamp: s.last_updated ?? s.timestamp ?? doc.last_updated ?? doc.timestamp,
      source: { format: 'openvex', document: doc['@id'], author: doc.author, ...source },
    });
  }
  return out;
}
