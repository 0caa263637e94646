/**
 * CycloneDX VEX (a BOM whose `vulnerabilities[]` carry `analysis`, CycloneDX 1.4–1.6): each
 * vulnerability's `affects[].ref` names a component by bom-ref (or a BOM-Link `urn:cdx:…#ref`, or
 * a purl), and `analysis.state` maps onto the VEX statuses as CycloneDX documents it:
 * resolved → fixed, exploitable → affected, in_triage → under_investigation, false_positive and
 * not_affected → not_affected.
 */
import { z } from 'zod';
import { type VexProduct, type VexSource, type VexStatement, type VexStatus } from './statement';

export const CYCLONEDX_VEX_PREDICATE_TYPE = 'https://cyclonedx.org/vex';

export const CYCLONEDX_STATES = ['resolved', 'resolved_with_pedigree', 'exploitable', 'in_triage', 'false_positive', 'not_affected'] as const;
export const CYCLONEDX_JUSTIFICATIONS = [
  'code_not_present',
  'code_not_reachable',
  'requires_configuration',
  'requires_dependency',
  'requires_environment',
  'protected_by_compiler',
  'protected_at_runtime',
  'protected_at_perimeter',
  'protected_by_mitigating_control',
] as const;

const STATUS: Record<(typeof CYCLONEDX_STATES)[number], VexStatus> = {
  resolved: 'fixed',
  resolved_with_pedigree: 'fixed',
  exploitable: 'affected',
  in_triage: 'under_investigation',
  false_positive: 'not_affected',
  not_affected: 'not_affected',
};

const component = z.looseObject({
  'bom-ref': z.string().optional(),
  purl: z.string().optional(),
  name: z.string().optional(),
  components: z.array(z.unknown()).optional(),
});
const dateTime = z.iso.datetime({ offset: true, local: false });

const vulnerabilitySchema = z.looseObject({
  'bom-ref': z.string().optional(),
  id: z.string().min(1),
  references: z.array(z.looseObject({ id: z.string().min(1) })).optional(),
  analysis: z
    .looseObject({
      state: z.enum(CYCLONEDX_STATES),
      justification: z.enum(CYCLONEDX_JUSTIFICATIONS).optional(),
      response: z.array(z.string()).optional(),
      detail: z.string().optional(),
      firstIssued: dateTime.optional(),
      lastUpdated: dateTime.optional(),
    })
    .optional(),
  affects: z.array(z.looseObject({ ref: z.string().min(1) })).optional(),
});

export const cycloneDxVexSchema = z.looseObject({
  bomFormat: z.literal('CycloneDX'),
  specVersion: z.enum(['1.4', '1.5', '1.6', '1.7']),
  serialNumber: z.string().optional(),
  version: z.number().int().optional(),
  metadata: z.looseObject({ timestamp: dateTime.optional(), component: component.optional() }).optional(),
  components: z.array(component).optional(),
  vulnerabilities: z.array(vulnerabilitySchema).min(1, 'a VEX BOM lists vulnerabilities'),
});

export type CycloneDxVex = z.infer<typeof cycloneDxVexSchema>;

/** bom-ref → purl of every component (nested ones too) and of the BOM's subject. */
function refIndex(doc: CycloneDxVex): Map<string, string> {
  const index = new Map<string, string>();
  const visit = (c: unknown) => {
    const parsed = component.safeParse(c);
    if (!parsed.success) return;
    if (parsed.data['bom-ref'] && parsed.data.purl) index.set(parsed.data['bom-ref'], parsed.data.purl);
    for (const child of parsed.data.components ?? []) visit(child);
  };
  visit(doc.metadata?.component);
  for (const c of doc.components ?? []) visit(c);
  return index;
}

/** Problems the schema cannot express: an analysis without what makes it usable. */
export function cycloneDxProblems(doc: CycloneDxVex): string[] {
  const problems: string[] = [];
  doc.vulnerabilities.forEach((v, i) => {
    if (!v.analysis) problems.push(`vulnerabilities.${i}.analysis: missing (a VEX entry states the analysis)`);
    else if (v.analysis.state === 'not_affected' && !v.analysis.justification && !v.analysis.detail) {
      problems.push(`vulnerabilities.${i}.analysis: a not_affected state needs a justification or a detail`);
    }
    if (!v.affects?.length) problems.push(`vulnerabilities.${i}.affects: names no component`);
  });
  return problems;
}

export function cycloneDxStatements(doc: CycloneDxVex, origin: string, source: Omit<VexSource, 'format' | 'document' | 'author'>): VexStatement[] {
  const index = refIndex(doc);
  const out: VexStatement[] = [];
  for (const v of doc.vulnerabilities) {
    if (!v.analysis || !v.affects?.length) continue;
    const products: VexProduct[] = v.affects.map(({ ref }) => {
      const local = ref.startsWith('urn:cdx:') && ref.includes('#') ? decodeURIComponent(ref.slice(ref.indexOf('#') + 1)) : ref;
      const purl = index.get(local);
      return { ids: [...new Set([local, ...(purl ? [purl] : [])])], subcomponents: [] };
    });
    const a = v.analysis;
    const timestamp = a.lastUpdated ?? a.firstIssued ?? doc.metadata?.timestamp;
    out.push({
      vulnerability: v.id,
      aliases: (v.references ?? []).map((r) => r.id),
      status: STATUS[a.state],
      ...(a.justification ? { justification: a.justification } : {}),
      ...(a.detail ? { impactStatement: a.detail } : {}),
      ...(a.response?.length ? { actionStatement: a.response.join(', ') } : {}),
      products,
      ...(timestamp ? { timestamp } : {}),
      source: { format: 'cyclonedx', document: doc.serialNumber ?? origin, ...source },
    });
  }
  return out;
}
