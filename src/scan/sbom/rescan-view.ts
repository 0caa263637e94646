/**
 * The rescan view of a stored scan: what the fleet rescan needs of it (the image, its OS, hygiene and
 * the packages packagesFromCycloneDx reads from its SBOM), kept beside the SBOM in a compact form.
 * Why: every daily rescan read each image's whole CycloneDX document (about 300 KB of JSON, validated
 * by zod, then walked) only to rebuild the same package list; the view is a fraction of the text and
 * is checked by hand, as a zod schema over hundreds of tuples costs most of what the view saves.
 *
 * Fail closed: a view that is not exactly in this shape is refused with the key and the problem (the
 * image then stays unchecked), never read as an image without packages.
 */
import { ChainError } from '../../errors';
import { type HygieneResult, type Package } from '../types';
import { packagesFromCycloneDx, type StoredScan } from './cyclonedx';

/** Bumped (and the store's view key with it) whenever the encoding or packagesFromCycloneDx's output changes. */
export const RESCAN_VIEW_FORMAT = 'dchain-rescan-view/1';

export interface RescanView {
  registry: string;
  repository: string;
  digest: string;
  scannedAt: string;
  os?: StoredScan['os'];
  hygiene: HygieneResult;
  /** Exactly what packagesFromCycloneDx returns for the stored SBOM: the same fields, in the same order. */
  packages: Package[];
}

/**
 * One package: name, version, ecosystem, purl, layer and location (indexes into `strings`: an image's
 * packages share a few layers and database paths), then sourceName, sourceVersion, release, licenses,
 * null when the package has none (packagesFromCycloneDx never gives them empty).
 */
type PackageTuple = [string, string, string, string, number, number, string | null, string | null, string | null, string[] | null];

interface EncodedView extends Omit<RescanView, 'packages'> {
  format: typeof RESCAN_VIEW_FORMAT;
  strings: string[];
  packages: PackageTuple[];
}

/** The view of a stored scan, its packages read as a rescan of the SBOM reads them. */
export function rescanViewOf(stored: StoredScan): RescanView {
  return {
    registry: stored.registry,
    repository: stored.repository,
    digest: stored.digest,
    scannedAt: stored.scannedAt,
    ...(stored.os ? { os: stored.os } : {}),
    hygiene: stored.hygiene,
    packages: packagesFromCycloneDx(stored.sbom),
  };
}

export function encodeRescanView(view: RescanView): string {
  const strings: string[] = [];
  const at = new Map<string, number>();
  const intern = (s: string) => {
    let i = at.get(s);
    if (i === undefined) {
      i = strings.push(s) - 1;
      at.set(s, i);
    }
    return i;
  };
  const packages = view.packages.map((p): PackageTuple => [
    p.name,
    p.version,
    p.ecosystem,
    p.purl,
    intern(p.layer),
    intern(p.location),
    p.sourceName || null,
    p.sourceVersion || null,
    p.release || null,
    p.licenses?.length ? p.licenses : null,
  ]);
  const encoded: EncodedView = {
    format: RESCAN_VIEW_FORMAT,
    registry: view.registry,
    repository: view.repository,
    digest: view.digest,
    scannedAt: view.scannedAt,
    ...(view.os ? { os: view.os } : {}),
    hygiene: view.hygiene,
    strings,
    packages,
  };
  return JSON.stringify(encoded);
}

class Malformed extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(v: unknown, what: string, nonEmpty = false): string {
  if (typeof v !== 'string' || (nonEmpty && v === '')) throw new Malformed(`${what}: expected a ${nonEmpty ? 'non-empty ' : ''}string`);
  return v;
}

const FIELDS = ['name', 'version', 'ecosystem', 'purl', 'layer', 'location', 'sourceName', 'sourceVersion', 'release', 'licenses'] as const;

/*
 * The package checks name the field only when they fail: building "packages[i].field" for every field
 * of every package cost most of the decoding.
 */
function text(t: unknown[], i: number, f: number, nonEmpty: boolean): string {
  const v = t[f];
  if (typeof v === 'string' && (!nonEmpty || v !== '')) return v;
  return str(v, `packages[${i}].${FIELDS[f]}`, nonEmpty);
}

function optional(t: unknown[], i: number, f: number): string | undefined {
  return t[f] === null ? undefined : text(t, i, f, true);
}

function ref(t: unknown[], i: number, f: number, strings: readonly string[]): string {
  const n = t[f];
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n >= strings.length)
    throw new Malformed(`packages[${i}].${FIELDS[f]}: expected an index into strings`);
  return strings[n]!;
}

function decodePackage(t: unknown, i: number, strings: readonly string[]): Package {
  if (!Array.isArray(t) || t.length !== FIELDS.length) throw new Malformed(`packages[${i}]: expected a tuple of ${FIELDS.length}`);
  const tuple = t as unknown[];
  // Built field by field in packagesFromCycloneDx's order, optional fields absent (not undefined).
  const p: Package = {
    name: text(tuple, i, 0, false),
    version: text(tuple, i, 1, true),
    ecosystem: text(tuple, i, 2, true) as Package['ecosystem'],
    purl: text(tuple, i, 3, true),
    layer: ref(tuple, i, 4, strings),
    location: ref(tuple, i, 5, strings),
  };
  const sourceName = optional(tuple, i, 6);
  const sourceVersion = optional(tuple, i, 7);
  const release = optional(tuple, i, 8);
  if (sourceName !== undefined) p.sourceName = sourceName;
  if (sourceVersion !== undefined) p.sourceVersion = sourceVersion;
  if (release !== undefined) p.release = release;
  const licenses = tuple[9];
  if (licenses !== null) {
    if (!Array.isArray(licenses) || licenses.length === 0) throw new Malformed(`packages[${i}].licenses: expected null or a non-empty array`);
    for (let j = 0; j < licenses.length; j++) {
      const l: unknown = licenses[j];
      if (typeof l !== 'string' || l === '') str(l, `packages[${i}].licenses[${j}]`, true);
    }
    p.licenses = licenses as string[];
  }
  return p;
}

function decode(json: unknown, digest: string | undefined): RescanView {
  if (!isObject(json)) throw new Malformed('expected an object');
  if (json.format !== RESCAN_VIEW_FORMAT) throw new Malformed(`format: expected "${RESCAN_VIEW_FORMAT}", got ${JSON.stringify(json.format) ?? 'none'}`);
  const viewDigest = str(json.digest, 'digest');
  // A view filed under another image's key is not this image's packages.
  if (digest !== undefined && viewDigest !== digest) throw new Malformed(`digest: the view is of ${viewDigest}`);
  const os = json.os;
  if (os !== undefined) {
    if (!isObject(os)) throw new Malformed('os: expected an object');
    str(os.id, 'os.id');
    str(os.versionId, 'os.versionId');
    if (os.prettyName !== undefined) str(os.prettyName, 'os.prettyName');
  }
  // As the stored SBOM's schema: an object, read by the policy as it was stored.
  if (!isObject(json.hygiene)) throw new Malformed('hygiene: expected an object');
  const strings = json.strings;
  if (!Array.isArray(strings)) throw new Malformed('strings: expected an array');
  for (let i = 0; i < strings.length; i++) if (typeof strings[i] !== 'string') str(strings[i], `strings[${i}]`);
  const packages = json.packages;
  if (!Array.isArray(packages)) throw new Malformed('packages: expected an array');
  return {
    registry: str(json.registry, 'registry'),
    repository: str(json.repository, 'repository'),
    digest: viewDigest,
    scannedAt: str(json.scannedAt, 'scannedAt'),
    ...(os !== undefined ? { os: os as RescanView['os'] } : {}),
    hygiene: json.hygiene as unknown as HygieneResult,
    packages: packages.map((t, i) => decodePackage(t, i, strings as string[])),
  };
}

/**
 * Reads a view stored under `key` (for the image `digest`, when given): the packages exactly as the
 * SBOM gives them, or a ChainError naming the key and what is wrong.
 */
export function decodeRescanView(text: string, key: string, digest?: string): RescanView {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ChainError('INTERNAL', `rescan view ${key} is not JSON`, { cause: err });
  }
  try {
    return decode(json, digest);
  } catch (err) {
    if (err instanceof Malformed) throw new ChainError('INTERNAL', `rescan view ${key} is malformed: ${err.message}`);
    throw err;
  }
}
