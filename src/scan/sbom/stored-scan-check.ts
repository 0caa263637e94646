/**
 * The shape check of a stored SBOM as the rescan reads it, by hand: the rules of the loose zod
 * schema it replaces (cycloneDxSchema under the stored scan's fields), whose walk over every
 * component and property of a 500-package SBOM cost about as much as re-matching it. It refuses what
 * that schema refused, naming the first bad field; unknown fields pass, a missing `components` reads as none.
 */

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The first problem with `value` as a stored scan, or undefined when it is one (components defaulted to []). */
export function storedScanProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not an object';
  for (const field of ['registry', 'repository', 'digest', 'scannedAt']) if (typeof value[field] !== 'string') return `${field}: expected a string`;
  if (value.os !== undefined) {
    const os = value.os;
    if (!isObject(os)) return 'os: expected an object';
    if (typeof os.id !== 'string' || typeof os.versionId !== 'string') return 'os: expected id and versionId strings';
    if (os.prettyName !== undefined && typeof os.prettyName !== 'string') return 'os.prettyName: expected a string';
  }
  if (!isObject(value.hygiene)) return 'hygiene: expected an object';
  const sbom = value.sbom;
  if (!isObject(sbom)) return 'sbom: expected an object';
  if (sbom.bomFormat !== 'CycloneDX') return 'sbom.bomFormat: expected "CycloneDX"';
  if (typeof sbom.specVersion !== 'string') return 'sbom.specVersion: expected a string';
  if (sbom.serialNumber !== undefined && typeof sbom.serialNumber !== 'string') return 'sbom.serialNumber: expected a string';
  if (!Number.isInteger(sbom.version)) return 'sbom.version: expected an integer';
  if (sbom.metadata !== undefined) {
    const m = sbom.metadata;
    if (!isObject(m)) return 'sbom.metadata: expected an object';
    if (m.timestamp !== undefined && typeof m.timestamp !== 'string') return 'sbom.metadata.timestamp: expected a string';
    if (m.component !== undefined) {
      const problem = componentProblem(m.component);
      if (problem) return `sbom.metadata.component: ${problem}`;
    }
    if (m.properties !== undefined) {
      const problem = propertiesProblem(m.properties);
      if (problem) return `sbom.metadata.properties${problem}`;
    }
  }
  if (sbom.components === undefined) sbom.components = [];
  else if (!Array.isArray(sbom.components)) return 'sbom.components: expected an array';
  const components = sbom.components as unknown[];
  for (let i = 0; i < components.length; i++) {
    const problem = componentProblem(components[i]);
    if (problem) return `sbom.components[${i}]: ${problem}`;
  }
  return undefined;
}

function componentProblem(c: unknown): string | undefined {
  if (!isObject(c)) return 'expected an object';
  if (typeof c.type !== 'string') return 'type: expected a string';
  if (typeof c.name !== 'string') return 'name: expected a string';
  for (const field of ['bom-ref', 'version', 'purl']) if (c[field] !== undefined && typeof c[field] !== 'string') return `${field}: expected a string`;
  if (c.licenses !== undefined && !Array.isArray(c.licenses)) return 'licenses: expected an array';
  if (c.properties !== undefined) {
    const problem = propertiesProblem(c.properties);
    if (problem) return `properties${problem}`;
  }
  return undefined;
}

function propertiesProblem(properties: unknown): string | undefined {
  if (!Array.isArray(properties)) return ': expected an array';
  for (let i = 0; i < properties.length; i++) {
    const p: unknown = properties[i];
    if (!isObject(p) || typeof p.name !== 'string' || typeof p.value !== 'string') return `[${i}]: expected a name and a value string`;
  }
  return undefined;
}
