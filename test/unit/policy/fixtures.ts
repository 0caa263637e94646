import { type ImageFacts, type ImageFactsInput, imageFactsSchema } from '../../../src/policy/image-facts';
import { type LoadedPolicy, parsePolicy } from '../../../src/policy/policy-file';

export const NOW = new Date('2026-06-01T12:00:00Z');
export const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** Current OSV data covering every package of the image: nothing to say about the data. */
export const GOOD_DATA = {
  version: 'sha256:test',
  records: 10,
  ageSeconds: 60,
  maxAgeSeconds: 21_600,
  ecosystems: [{ ecosystem: 'Debian', records: 10, updatedAt: '2026-06-01T11:59:00Z', ageSeconds: 60 }],
  problems: [],
};

/** A clean image: no findings, non-root, nothing forbidden, signed, scanned an hour ago. */
export function facts(overrides: Partial<ImageFactsInput> = {}, hygiene: Partial<ImageFactsInput['hygiene']> = {}): ImageFacts {
  return imageFactsSchema.parse({
    registry: 'registry.example.com',
    repository: 'team/app',
    digest: DIGEST,
    scannedAt: '2026-06-01T11:00:00Z',
    findings: [],
    vulnerabilityData: GOOD_DATA,
    baseImage: { reference: 'registry.example.com/base/distroless:12', digest: `sha256:${'cd'.repeat(32)}` },
    signatures: [{ keyId: 'release' }],
    attestations: [{ predicateType: 'https://cyclonedx.org/bom' }],
    ...overrides,
    hygiene: { user: '65532', sizeBytes: 10_000_000, layerCount: 3, efficiency: 0.98, ...hygiene },
  });
}

export function finding(id: string, severity: 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'UNKNOWN', fixable: boolean, extra: Record<string, unknown> = {}) {
  return {
    id,
    aliases: [],
    package: 'openssl',
    version: '3.0.1',
    ecosystem: 'Debian',
    severity,
    fixable,
    ...(fixable ? { fixedVersion: '3.0.2' } : {}),
    ...extra,
  };
}

/** A policy of one rule named "r" with the given rule body (and policy-level extras). */
export function policyWith(rule: Record<string, unknown>, top: Record<string, unknown> = {}): LoadedPolicy {
  return parsePolicy({
    apiVersion: 'policy.delivery-chain.dev/v1',
    kind: 'ImagePolicy',
    metadata: { name: 'test' },
    mode: 'enforce',
    trustedKeys: [
      { id: 'release', publicKey: '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n' },
      { id: 'vendor', publicKey: '-----BEGIN PUBLIC KEY-----\nMFkx\n-----END PUBLIC KEY-----\n' },
    ],
    rules: [{ name: 'r', ...rule }],
    ...top,
  });
}
