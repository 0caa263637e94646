/**
 * CycloneDX 1.6 JSON SBOM of a scanned image: the image as the metadata component, one library
 * component per package (purl, licenses) with its layer, location and source package as properties,
 * so a rescan can rebuild the package list without pulling layers.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { type HygieneResult, type Package } from '../types';

export const SBOM_PROPERTY = {
  ecosystem: 'dchain:package:ecosystem',
  layer: 'dchain:package:layer',
  location: 'dchain:package:location',
  sourceName: 'dchain:package:source-name',
  sourceVersion: 'dchain:package:source-version',
  release: 'dchain:package:release',
} as const;

const property = z.looseObject({ name: z.string(), value: z.string() });
const component = z.looseObject({
  type: z.string(),
  'bom-ref': z.string().optional(),
  name: z.string(),
  version: z.string().optional(),
  purl: z.string().optional(),
  licenses: z.array(z.unknown()).optional(),
  properties: z.array(property).optional(),
});

export const cycloneDxSchema = z.looseObject({
  bomFormat: z.literal('CycloneDX'),
  specVersion: z.string(),
  serialNumber: z.string().optional(),
  version: z.number().int(),
  metadata: z.looseObject({ timestamp: z.string().optional(), component: component.optional(), properties: z.array(property).optional() }).optional(),
  components: z.array(component).default([]),
});

export type CycloneDxBom = z.infer<typeof cycloneDxSchema>;

export interface SbomSubject {
  registryHost: string;
  repository: string;
  digest: string;
  os?: { id: string; versionId: string; prettyName?: string };
  toolVersion: string;
}

export function toCycloneDx(subject: SbomSubject, packages: readonly Package[], timestamp = new Date()): CycloneDxBom {
  const refs = new Map<string, number>();
  const components = packages.map((p) => {
    const seen = refs.get(p.purl) ?? 0;
    refs.set(p.purl, seen + 1);
    const props: [string, string | undefined][] = [
      [SBOM_PROPERTY.ecosystem, p.ecosystem],
      [SBOM_PROPERTY.layer, p.layer],
      [SBOM_PROPERTY.location, p.location],
      [SBOM_PROPERTY.sourceName, p.sourceName],
      [SBOM_PROPERTY.sourceVersion, p.sourceVersion],
      [SBOM_PROPERTY.release, p.release],
    ];
    const ref = seen === 0 ? p.purl : `${p.purl}#${seen}`;
    const source = sourceComponent(p, ref);
    return {
      type: 'library',
      'bom-ref': ref,
      name: p.name,
      version: p.version,
      purl: p.purl,
      ...(p.licenses?.length ? { licenses: p.licenses.map((name) => ({ license: { name } })) } : {}),
      properties: props.filter((e): e is [string, string] => e[1] !== undefined).map(([name, value]) => ({ name, value })),
      ...(source ? { components: [source] } : {}),
    };
  });
  const name = `${subject.registryHost}/${subject.repository}`;
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: timestamp.toISOString(),
      tools: { components: [{ type: 'application', name: 'delivery-chain', version: subject.toolVersion }] },
      component: {
        type: 'container',
        'bom-ref': `${name}@${subject.digest}`,
        name,
        version: subject.digest,
        purl: `pkg:oci/${encodeURIComponent(subject.repository.split('/').pop()!)}@${encodeURIComponent(subject.digest)}?repository_url=${encodeURIComponent(name)}`,
      },
      ...(subject.os ? { properties: [{ name: 'dchain:os', value: `${subject.os.id} ${subject.os.versionId}`.trim() }] } : {}),
    },
    components,
  };
}

/**
 * The source package a Debian/Ubuntu binary was built from, as a nested component: Debian's
 * advisories name source packages, and SBOM consumers that do not read the purl's `upstream`
 * qualifier (osv-scanner reads purls only) find them through this component's own purl. Nested,
 * with no properties of ours, it is not an installed package: packagesFromCycloneDx skips it.
 */
function sourceComponent(p: Package, ref: string): object | undefined {
  if ((p.ecosystem !== 'Debian' && p.ecosystem !== 'Ubuntu') || p.sourceName === undefined) return undefined;
  const version = p.sourceVersion ?? p.version;
  if (p.sourceName === p.name && version === p.version) return undefined;
  const distro = /[?&]distro=([^&#]+)/.exec(p.purl)?.[1];
  const namespace = p.ecosystem === 'Ubuntu' ? 'ubuntu' : 'debian';
  const q = `arch=source${distro ? `&distro=${distro}` : ''}`;
  return {
    type: 'library',
    'bom-ref': `${ref}#source`,
    name: p.sourceName,
    version,
    purl: `pkg:deb/${namespace}/${encodeURIComponent(p.sourceName)}@${encodeURIComponent(version).replace(/%3A/gi, ':')}?${q}`,
    description: `source package of ${p.name}`,
  };
}

function prop(c: z.infer<typeof component>, name: string): string | undefined {
  return c.properties?.find((p) => p.name === name)?.value;
}

/** The packages recorded in an SBOM this scanner wrote (components without our properties are skipped). */
export function packagesFromCycloneDx(bom: CycloneDxBom): Package[] {
  const out: Package[] = [];
  for (const c of bom.components) {
    const ecosystem = prop(c, SBOM_PROPERTY.ecosystem);
    if (!ecosystem || !c.version || !c.purl) continue;
    const licenses = (c.licenses ?? [])
      .map((l) => (l as { license?: { name?: string; id?: string } }).license)
      .map((l) => l?.name ?? l?.id)
      .filter((n): n is string => !!n);
    const sourceName = prop(c, SBOM_PROPERTY.sourceName);
    const sourceVersion = prop(c, SBOM_PROPERTY.sourceVersion);
    const release = prop(c, SBOM_PROPERTY.release);
    out.push({
      name: c.name,
      version: c.version,
      ecosystem: ecosystem as Package['ecosystem'],
      purl: c.purl,
      layer: prop(c, SBOM_PROPERTY.layer) ?? '',
      location: prop(c, SBOM_PROPERTY.location) ?? '',
      ...(sourceName ? { sourceName } : {}),
      ...(sourceVersion ? { sourceVersion } : {}),
      ...(release ? { release } : {}),
      ...(licenses.length ? { licenses } : {}),
    });
  }
  return out;
}

/** What a rescan needs besides the packages. */
export interface StoredScan {
  registry: string;
  repository: string;
  digest: string;
  scannedAt: string;
  os?: { id: string; versionId: string; prettyName?: string };
  hygiene: HygieneResult;
  sbom: CycloneDxBom;
}
