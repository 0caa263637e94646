/**
 * The rescan view of a stored scan: what the fleet rescan needs of it (the image, its OS, hygiene and
 * the packages packagesFromCycloneDx reads from its SBOM), kept beside the SBOM in a compact form.
 * Why: every daily rescan read each image's whole CycloneDX document (about 300 KB of JSON, validated
 * by zod, then walked) only to rebuild the same package list; the view is a fraction of the text and
 * is checked by hand, as a zod schema over hundreds of tuples costs most of what the view saves.
 *
 * Each package is kept once for the fleet, in the package table (package-table.ts): a view names its
 * packages by their numbers in the table, with each one's layer and location. Why: a fleet's images
 * share most of their packages, and a rescan decoded each image's 500 packages (new strings and
 * objects for every field) and looked each one up by its purl in a map of 650,000 (about 17 s of a
 * full rescan of 10,000 images in `npm run bench -- rescan`); a number is looked up in an array.
 *
 * Fail closed: a view that is not exactly in this shape, or names a package the table does not hold,
 * is refused with the key and the problem (the image then stays unchecked), never read as an image
 * without packages.
 */
import { ChainError } from '../../errors';
import { type HygieneResult, type Package } from '../types';
import { packagesFromCycloneDx, type StoredScan } from './cyclonedx';

/** Bumped (and the store's view key with it) whenever the encoding or packagesFromCycloneDx's output changes. */
export const RESCAN_VIEW_FORMAT = 'dchain-rescan-view/2';

export interface RescanView {
  registry: string;
  repository: string;
  digest: string;
  scannedAt: string;
  os?: StoredScan['os'];
  hygiene: HygieneResult;
  /** Exactly what packagesFromCycloneDx returns for the stored SBOM: the same fields, in the same order (made when first read). */
  readonly packages: Package[];
  /** What matching reads of the packages, without a copy of each per image. */
  readonly rows: PackageRows;
}

/**
 * An image's packages as matching reads them: each one's fields but its layer and location (the
 * table's package, shared by every image that holds it, when read from a stored view), its layer,
 * and its number in the package table (with the table's epoch) when read from one.
 */
export interface PackageRows {
  packages: readonly Package[];
  layers: readonly string[];
  table?: { epoch: string; ids: readonly number[] };
}

/** The view of a stored scan, its packages read as a rescan of the SBOM reads them. */
export function rescanViewOf(stored: StoredScan): RescanView {
  const packages = packagesFromCycloneDx(stored.sbom);
  return {
    registry: stored.registry,
    repository: stored.repository,
    digest: stored.digest,
    scannedAt: stored.scannedAt,
    ...(stored.os ? { os: stored.os } : {}),
    hygiene: stored.hygiene,
    packages,
    rows: { packages, layers: packages.map((p) => p.layer) },
  };
}

/** A package as the table keeps it: every field the view reads but its layer and location, null when absent. */
type TableTuple = [string, string, string, string, string | null, string | null, string | null, string[] | null];

/** The package table's text of a package (its key there: two packages with the same text are one). */
export function packageTuple(p: Package): string {
  const tuple: TableTuple = [
    p.name,
    p.version,
    p.ecosystem,
    p.purl,
    p.sourceName || null,
    p.sourceVersion || null,
    p.release || null,
    p.licenses?.length ? p.licenses : null,
  ];
  return JSON.stringify(tuple);
}

interface EncodedView extends Omit<RescanView, 'packages' | 'rows'> {
  format: typeof RESCAN_VIEW_FORMAT;
  /** The package table the numbers are of (package-table.ts: a table started over has another epoch). */
  table: string;
  strings: string[];
  /** Three numbers a package: its number in the table, then its layer and its location (indexes into `strings`). */
  packages: number[];
}

/** The view's text, its packages named by `table.ids` (each package's number in the table, in order). */
export function encodeRescanView(view: RescanView, table: { epoch: string; ids: readonly number[] }): string {
  if (table.ids.length !== view.packages.length)
    throw new ChainError('INTERNAL', `rescan view of ${view.digest}: ${table.ids.length} table ids for ${view.packages.length} packages`);
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
  const packages: number[] = [];
  view.packages.forEach((p, i) => packages.push(table.ids[i]!, intern(p.layer), intern(p.location)));
  const encoded: EncodedView = {
    format: RESCAN_VIEW_FORMAT,
    registry: view.registry,
    repository: view.repository,
    digest: view.digest,
    scannedAt: view.scannedAt,
    ...(view.os ? { os: view.os } : {}),
    hygiene: view.hygiene,
    table: table.epoch,
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

/** A view read and checked, its packages still numbers in the table. */
export interface ParsedView {
  key: string;
  head: Omit<RescanView, 'packages' | 'rows'>;
  /** The epoch of the table its numbers are of. */
  table: string;
  strings: readonly string[];
  /** Three numbers a package (EncodedView.packages). */
  rows: readonly number[];
}

/** Reads a view's text (for the image `digest`, when given), or throws a ChainError naming `key` and the problem. */
export function parseRescanView(text: string, key: string, digest?: string): ParsedView {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ChainError('INTERNAL', `rescan view ${key} is not JSON`, { cause: err });
  }
  try {
    return parse(json, key, digest);
  } catch (err) {
    if (err instanceof Malformed) throw new ChainError('INTERNAL', `rescan view ${key} is malformed: ${err.message}`);
    throw err;
  }
}

function parse(json: unknown, key: string, digest: string | undefined): ParsedView {
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
  const table = str(json.table, 'table', true);
  const strings = json.strings;
  if (!Array.isArray(strings)) throw new Malformed('strings: expected an array');
  for (let i = 0; i < strings.length; i++) if (typeof strings[i] !== 'string') str(strings[i], `strings[${i}]`);
  const rows = json.packages;
  if (!Array.isArray(rows) || rows.length % 3 !== 0) throw new Malformed('packages: expected an array of three numbers a package');
  for (let i = 0; i < rows.length; i += 3) {
    const id: unknown = rows[i];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 1) throw new Malformed(`packages[${i / 3}]: expected a package number of the table`);
    for (const [f, what] of [
      [1, 'layer'],
      [2, 'location'],
    ] as const) {
      const n: unknown = rows[i + f];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n >= strings.length)
        throw new Malformed(`packages[${i / 3}].${what}: expected an index into strings`);
    }
  }
  return {
    key,
    head: {
      registry: str(json.registry, 'registry'),
      repository: str(json.repository, 'repository'),
      digest: viewDigest,
      scannedAt: str(json.scannedAt, 'scannedAt'),
      ...(os !== undefined ? { os: os as RescanView['os'] } : {}),
      hygiene: json.hygiene as unknown as HygieneResult,
    },
    table,
    strings: strings as string[],
    rows: rows as number[],
  };
}

/** The table numbers a parsed view names (each once). */
export function idsOf(view: ParsedView): number[] {
  const ids = new Set<number>();
  for (let i = 0; i < view.rows.length; i += 3) ids.add(view.rows[i]!);
  return [...ids];
}

/**
 * The view whose packages are `packageOf` each number (the table's packages, as decodeTablePackage
 * reads them); throws a ChainError naming the key and a number the table does not hold or cannot read.
 */
export function resolveRescanView(view: ParsedView, packageOf: (id: number) => Package | ChainError | undefined): RescanView {
  const n = view.rows.length / 3;
  const shared = new Array<Package>(n);
  const layers = new Array<string>(n);
  const ids = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const id = view.rows[3 * i]!;
    const p = packageOf(id);
    if (p === undefined) throw new ChainError('INTERNAL', `rescan view ${view.key} names package ${id}, which the package table does not hold`);
    if (p instanceof ChainError) throw new ChainError('INTERNAL', `rescan view ${view.key}: ${p.message}`, { cause: p });
    shared[i] = p;
    ids[i] = id;
    layers[i] = view.strings[view.rows[3 * i + 1]!]!;
  }
  const { rows, strings } = view;
  let packages: Package[] | undefined;
  const out = { ...view.head, rows: { packages: shared, layers, table: { epoch: view.table, ids } } } as unknown as RescanView;
  // Made on first read: matching reads the rows alone.
  Object.defineProperty(out, 'packages', {
    get: () => (packages ??= shared.map((t, i) => withPlace(t, layers[i]!, strings[rows[3 * i + 2]!]!))),
    enumerable: true,
    configurable: true,
  });
  return out;
}

/** A table's package in an image: built field by field in packagesFromCycloneDx's order, optional fields absent (not undefined). */
function withPlace(t: Package, layer: string, location: string): Package {
  const p: Package = { name: t.name, version: t.version, ecosystem: t.ecosystem, purl: t.purl, layer, location };
  if (t.sourceName !== undefined) p.sourceName = t.sourceName;
  if (t.sourceVersion !== undefined) p.sourceVersion = t.sourceVersion;
  if (t.release !== undefined) p.release = t.release;
  if (t.licenses !== undefined) p.licenses = t.licenses;
  return p;
}

const FIELDS = ['name', 'version', 'ecosystem', 'purl', 'sourceName', 'sourceVersion', 'release', 'licenses'] as const;

/** A package of the table (its text: packageTuple), with no layer or location; or a ChainError naming its number and the problem. */
export function decodeTablePackage(text: string, id: number): Package {
  const what = `package ${id} of the package table`;
  let t: unknown;
  try {
    t = JSON.parse(text);
  } catch (err) {
    throw new ChainError('INTERNAL', `${what} is not JSON`, { cause: err });
  }
  const bad = (m: string) => new ChainError('INTERNAL', `${what} is malformed: ${m}`);
  if (!Array.isArray(t) || t.length !== FIELDS.length) throw bad(`expected a tuple of ${FIELDS.length}`);
  const text_ = (f: number, nonEmpty: boolean): string => {
    const v: unknown = t[f];
    if (typeof v !== 'string' || (nonEmpty && v === '')) throw bad(`${FIELDS[f]}: expected a ${nonEmpty ? 'non-empty ' : ''}string`);
    return v;
  };
  const p: Package = {
    name: text_(0, false),
    version: text_(1, true),
    ecosystem: text_(2, true) as Package['ecosystem'],
    purl: text_(3, true),
    layer: '',
    location: '',
  };
  for (const [f, field] of [
    [4, 'sourceName'],
    [5, 'sourceVersion'],
    [6, 'release'],
  ] as const)
    if (t[f] !== null) p[field] = text_(f, true);
  const licenses: unknown = t[7];
  if (licenses !== null) {
    if (!Array.isArray(licenses) || licenses.length === 0) throw bad('licenses: expected null or a non-empty array');
    licenses.forEach((l: unknown, j) => {
      if (typeof l !== 'string' || l === '') throw bad(`licenses[${j}]: expected a non-empty string`);
    });
    p.licenses = licenses as string[];
  }
  return p;
}
