import { z } from 'zod';
import { durationSchema } from '../config';
import { THRESHOLDS } from './severity';
import { sha256DigestSchema } from '../registry';

/**
 * The policy file (YAML or JSON). Rules are selected by registry, Kubernetes namespace and
 * repository glob patterns; every matching rule applies. `policy/policy.schema.json` is generated
 * from this schema for editors (`dchain policy schema`).
 */
const patterns = (what: string) =>
  z.array(z.string().min(1)).min(1).optional().describe(`Glob patterns of ${what} (* within a path segment, ** across); absent = any.`);

export const modeSchema = z.enum(['enforce', 'dry-run']).describe('enforce blocks on violations; dry-run decides and records but never blocks.');

const threshold = z.enum(THRESHOLDS).describe('The highest severity still accepted (NONE accepts no finding).');

export const allowlistEntrySchema = z.strictObject({
  id: z.string().min(1).describe('Vulnerability id or alias (CVE-…, GHSA-…, DSA-…).'),
  reason: z.string().min(3).describe('Why the finding is accepted; shown in every decision it affects.'),
  expires: z
    .union([z.iso.date(), z.iso.datetime({ offset: true })])
    .describe('When the entry stops applying: a date (midnight UTC starting that day) or a date-time.'),
  packages: z.array(z.string().min(1)).min(1).optional().describe('Limit the entry to these package names.'),
});

export const vulnerabilityRulesSchema = z.strictObject({
  maxSeverity: z
    .strictObject({ fixable: threshold.optional(), unfixable: threshold.optional() })
    .describe('Separate ceilings for findings with and without a fixed version.')
    .optional(),
  unknownSeverityAs: z.enum(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL']).default('MEDIUM').describe('How findings without a severity count.'),
  includeNegligible: z
    .boolean()
    .default(false)
    .describe('Hold findings the distribution rates negligible (Debian unimportant, Ubuntu negligible) to the ceilings too, at their rated severity.'),
  vulnerabilityData: z
    .enum(['require', 'warn'])
    .default('require')
    .describe(
      'require: deny an image matched against no, incomplete (an ecosystem of its packages without records) or stale (older than scan.osv.maxAge) OSV data; warn: report it only.',
    ),
  allowlist: z.array(allowlistEntrySchema).default([]),
});

const sizeSchema = z
  .union([z.number().int().positive(), z.string().regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|KiB|MiB|GiB)$/, 'a size such as 200MiB or 1GB')])
  .describe('Bytes, or a number with B, KB, MB, GB, KiB, MiB or GiB.');

export const hygieneRulesSchema = z.strictObject({
  forbidSetuid: z.boolean().optional().describe('No setuid or setgid regular files.'),
  forbidShells: z.boolean().optional(),
  forbidNetworkTools: z.boolean().optional(),
  forbidPrivateKeys: z.boolean().optional(),
  requireNonRootUser: z.boolean().optional().describe('The image config USER must name a non-root user.'),
  maxSize: sizeSchema.optional(),
  minEfficiency: z.number().min(0).max(1).optional().describe('Minimum layer efficiency in [0, 1] (1 - wasted / written bytes).'),
});

export const provenanceRulesSchema = z.strictObject({
  trustedRegistries: z.array(z.string().min(1)).min(1).optional().describe('Registry host patterns images may come from.'),
  trustedBaseImages: z.array(z.string().min(1)).min(1).optional().describe('Base image patterns (registry/repository, tag or digest ignored).'),
  requireSignatures: z
    .strictObject({ keys: z.array(z.string().min(1)).min(1).describe('Ids from trustedKeys.'), match: z.enum(['any', 'all']).default('any') })
    .optional(),
  requireAttestations: z.array(z.string().min(1)).min(1).optional().describe('in-toto predicate types that must be attested.'),
  maxScanAge: durationSchema.optional(),
});

/** VEX documents the policy applies to every image (OpenVEX or CycloneDX VEX, JSON). */
export const vexDocumentRefSchema = z.union([
  z.string().min(1),
  z.strictObject({
    path: z.string().min(1).describe('Path of the document, relative to the policy file.'),
    expires: z
      .union([z.iso.date(), z.iso.datetime({ offset: true })])
      .optional()
      .describe('When its statements stop suppressing: a date (midnight UTC starting that day) or a date-time.'),
  }),
]);

export const vexSettingsSchema = z.strictObject({
  documents: z.array(vexDocumentRefSchema).default([]).describe('OpenVEX or CycloneDX VEX files, relative to the policy file.'),
});

export const trustedSourcesSchema = z
  .strictObject({
    apt: z.array(z.string().min(1)).optional().describe('Debian/Ubuntu apt sources (sources.list, *.list, *.sources).'),
    apk: z.array(z.string().min(1)).optional().describe('Alpine repositories (/etc/apk/repositories).'),
    npm: z.array(z.string().min(1)).optional().describe('npm lockfile "resolved" URLs.'),
    pypi: z.array(z.string().min(1)).optional().describe('pip direct_url.json URLs of packages installed from a URL or VCS.'),
    go: z.array(z.string().min(1)).optional().describe('Go module proxies recorded in build info (GOPROXY), where the binary records them.'),
  })
  .describe(
    'Allowed hosts (deb.debian.org, *.example.com) or URL prefixes (https://registry.npmjs.org/) per ecosystem; an ecosystem not listed is not checked.',
  );

export const ruleSchema = z.strictObject({
  name: z.string().regex(/^[a-zA-Z0-9][\w.-]*$/, 'letters, digits, dot, dash, underscore'),
  mode: modeSchema.optional().describe('Overrides the policy mode for this rule.'),
  match: z
    .strictObject({
      registries: patterns('registry hosts (host[:port])'),
      namespaces: patterns('Kubernetes namespaces; rules with namespaces apply only at admission'),
      repositories: patterns('repositories'),
    })
    .prefault({}),
  vulnerabilities: vulnerabilityRulesSchema.optional(),
  hygiene: hygieneRulesSchema.optional(),
  provenance: provenanceRulesSchema.optional(),
  trustedSources: trustedSourcesSchema.optional(),
});

export const trustedKeySchema = z
  .strictObject({
    id: z.string().min(1),
    publicKey: z
      .string()
      .regex(/-----BEGIN PUBLIC KEY-----/, 'a PEM public key')
      .optional(),
    publicKeyFile: z.string().min(1).optional().describe('Path of a PEM public key, relative to the policy file.'),
  })
  .refine((k) => (k.publicKey === undefined) !== (k.publicKeyFile === undefined), 'exactly one of publicKey or publicKeyFile');

export const sidecarSchema = z.strictObject({
  image: z.string().min(1).describe('registry/repository pattern of an injected sidecar image.'),
  digest: sha256DigestSchema().optional().describe('Pin: only this digest passes.'),
  reason: z.string().min(3),
});

export const policySchema = z.strictObject({
  apiVersion: z.literal('policy.delivery-chain.dev/v1'),
  kind: z.literal('ImagePolicy'),
  metadata: z.strictObject({ name: z.string().min(1), version: z.string().min(1).optional() }),
  mode: modeSchema.default('enforce'),
  trustedKeys: z.array(trustedKeySchema).default([]),
  sidecars: z.array(sidecarSchema).default([]).describe('Images injected by other components that admission lets through.'),
  vex: vexSettingsSchema.optional(),
  rules: z.array(ruleSchema).min(1),
});

export type Mode = z.infer<typeof modeSchema>;
export type Policy = z.infer<typeof policySchema>;
export type PolicyRule = z.infer<typeof ruleSchema>;
export type AllowlistEntry = z.infer<typeof allowlistEntrySchema>;
export type VulnerabilityRules = z.infer<typeof vulnerabilityRulesSchema>;
export type HygieneRules = z.infer<typeof hygieneRulesSchema>;
export type ProvenanceRules = z.infer<typeof provenanceRulesSchema>;
export type Sidecar = z.infer<typeof sidecarSchema>;
export type TrustedSources = z.infer<typeof trustedSourcesSchema>;
