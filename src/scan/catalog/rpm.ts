/**
 * RPM packages (RHEL/UBI, Rocky, AlmaLinux, Fedora, CentOS, Amazon Linux, openSUSE/SLE, Mageia) from
 * the rpm database: sqlite `rpmdb.sqlite` (rpm ≥ 4.16) or Berkeley DB `Packages` (RHEL/CentOS ≤ 8,
 * Amazon Linux 2), under /var/lib/rpm or /usr/lib/sysimage/rpm. Each header blob is parsed by hand
 * (rpmdb/header.ts); a corrupt one skips that package with a warning. NDB `Packages.db` (SLE 15) is
 * not read: it is reported as a warning so an empty result is never silent.
 *
 * A package's layer is the layer that last wrote its files (an upgrade in a later layer rewrites them
 * all), else the database's.
 */
import { type FileTree } from '../fs/tree';
import { type Ecosystem, type Package } from '../types';
import { type OsRelease, osvRelease, SLE_IDS } from './os-release';
import { rpmPurl } from './purl';
import { BdbError, readBdbHash } from './rpmdb/bdb';
import { readRpmPackage, RpmHeaderError, type RpmPackageInfo } from './rpmdb/header';
import { readSqliteRpmdb, RpmSqliteError } from './rpmdb/sqlite';
import { type CatalogContext, type Cataloger } from './types';

const NAME = 'rpm';
/** rpm's database directories: the classic one, and the one of Fedora ≥ 36 and openSUSE (often the target of a /var/lib/rpm symlink). */
export const RPMDB_DIRS = ['/var/lib/rpm', '/usr/lib/sysimage/rpm'];
const SQLITE = 'rpmdb.sqlite';
const SQLITE_WAL = 'rpmdb.sqlite-wal';
const BDB = 'Packages';
const NDB = 'Packages.db';
const KEPT = new Set(RPMDB_DIRS.flatMap((d) => [SQLITE, SQLITE_WAL, BDB].map((f) => `${d}/${f}`)));

/** The OSV ecosystem family of an rpm-based OS; 'RPM' for one OSV publishes nothing for. */
export function rpmEcosystem(os: OsRelease | undefined): Ecosystem {
  const id = os?.id ?? '';
  if (id === 'rhel') return 'Red Hat';
  if (id === 'rocky') return 'Rocky Linux';
  if (id === 'almalinux') return 'AlmaLinux';
  if (id === 'mageia') return 'Mageia';
  if (id.startsWith('opensuse')) return 'openSUSE';
  if (SLE_IDS.includes(id)) return 'SUSE';
  return 'RPM';
}

/** The purl namespace (the distribution's vendor, as Red Hat and SUSE spell themselves in purls). */
function purlVendor(os: OsRelease | undefined): string | undefined {
  if (!os) return undefined;
  if (os.id === 'rhel') return 'redhat';
  if (os.id.startsWith('opensuse')) return 'opensuse';
  if (SLE_IDS.includes(os.id)) return 'suse';
  return os.id;
}

/** name-version-release of a source rpm file name (name may hold dashes, version and release do not). */
function parseSourceRpm(file: string): { name: string; version: string; release: string } | undefined {
  const m = /^(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm$/.exec(file);
  return m ? { name: m[1]!, version: m[2]!, release: m[3]! } : undefined;
}

const evr = (epoch: number | undefined, version: string, release: string) => `${epoch ? `${epoch}:` : ''}${version}-${release}`;

/** The layer of the files a package owns that the image still has (regular files and links, config files aside). */
function packageLayer(tree: FileTree, info: RpmPackageInfo): { index: number; layer: string } | undefined {
  let best: { index: number; layer: string } | undefined;
  for (const f of info.files) {
    if (f.directory || f.config) continue;
    const node = tree.get(f.path);
    if (!node || node.type === 'directory') continue;
    if (!best || node.layerIndex > best.index) best = { index: node.layerIndex, layer: node.layer };
  }
  return best;
}

interface Database {
  location: string;
  layer: string;
  blobs: () => Promise<{ id: string; blob: Uint8Array }[]>;
}

/** The database of the first directory that has one: sqlite over Berkeley DB, as rpm ≥ 4.16 reads them. */
function findDatabase(ctx: CatalogContext): Database | undefined {
  const seen = new Set<string>();
  for (const dir of RPMDB_DIRS) {
    const sqlite = ctx.tree.resolve(`${dir}/${SQLITE}`);
    const bdb = ctx.tree.resolve(`${dir}/${BDB}`);
    const ndb = ctx.tree.resolve(`${dir}/${NDB}`);
    // /var/lib/rpm is a symlink to /usr/lib/sysimage/rpm on Fedora and openSUSE: one database, read once.
    const real = (sqlite ?? bdb ?? ndb)?.path;
    if (!real || seen.has(real)) continue;
    seen.add(real);
    if (sqlite?.type === 'file') {
      if (!sqlite.content) {
        ctx.warn?.({ cataloger: NAME, location: sqlite.path, message: `rpm database of ${sqlite.size} bytes not captured (over the capture limit)` });
        return undefined;
      }
      const content = sqlite.content;
      const wal = ctx.tree.resolve(`${dir}/${SQLITE_WAL}`)?.content;
      return {
        location: sqlite.path,
        layer: sqlite.layer,
        blobs: async () => (await readSqliteRpmdb(content, wal)).map((r) => ({ id: `hnum ${r.hnum}`, blob: r.blob })),
      };
    }
    if (bdb?.type === 'file') {
      if (!bdb.content) {
        ctx.warn?.({ cataloger: NAME, location: bdb.path, message: `rpm database of ${bdb.size} bytes not captured (over the capture limit)` });
        return undefined;
      }
      const content = bdb.content;
      return { location: bdb.path, layer: bdb.layer, blobs: () => Promise.resolve(bdbBlobs(ctx, bdb.path, content)) };
    }
    if (ndb?.type === 'file') {
      ctx.warn?.({
        cataloger: NAME,
        location: ndb.path,
        message: 'NDB rpm databases (Packages.db) are not supported: the packages it lists are not catalogued',
      });
      return undefined;
    }
  }
  return undefined;
}

function bdbBlobs(ctx: CatalogContext, location: string, content: Buffer): { id: string; blob: Uint8Array }[] {
  const { items, errors, littleEndian: le } = readBdbHash(content);
  if (errors.length > 0)
    ctx.warn?.({ cataloger: NAME, location, message: `${errors.length} unreadable database item(s), first: ${errors[0]}`, skipped: errors.length });
  const out: { id: string; blob: Uint8Array }[] = [];
  for (const { key, value } of items) {
    // Keys are header instance numbers in the writer's byte order; instance 0 holds rpm's own counter, not a header.
    const instance = key.length === 4 ? (le ? key.readUInt32LE(0) : key.readUInt32BE(0)) : undefined;
    if (instance === 0) continue;
    out.push({ id: instance !== undefined ? `instance ${instance}` : `key ${key.toString('hex')}`, blob: value });
  }
  return out;
}

export async function catalogRpm(ctx: CatalogContext): Promise<Package[]> {
  const db = findDatabase(ctx);
  if (!db) return [];
  let blobs: { id: string; blob: Uint8Array }[];
  try {
    blobs = await db.blobs();
  } catch (e) {
    if (!(e instanceof RpmSqliteError || e instanceof BdbError)) throw e;
    ctx.warn?.({ cataloger: NAME, location: db.location, message: `unreadable rpm database: ${e.message}` });
    return [];
  }
  const os = ctx.os;
  const ecosystem = rpmEcosystem(os);
  const release = osvRelease(os);
  const vendor = purlVendor(os);
  const distro = os?.versionId ? `${os.id}-${os.versionId}` : undefined;
  const skipped: string[] = [];
  const out: Package[] = [];
  for (const { id, blob } of blobs) {
    let info: RpmPackageInfo;
    try {
      info = readRpmPackage(blob);
    } catch (e) {
      if (!(e instanceof RpmHeaderError || e instanceof RangeError)) throw e;
      skipped.push(`${id}: ${e.message}`);
      continue;
    }
    // Imported signing keys are stored as pseudo-packages.
    if (info.name === 'gpg-pubkey') continue;
    const source = info.sourceRpm ? parseSourceRpm(info.sourceRpm) : undefined;
    const version = evr(info.epoch, info.version, info.release);
    out.push({
      name: info.name,
      version,
      ecosystem,
      purl: rpmPurl(vendor, info.name, info.version, info.release, info.arch, info.epoch, distro),
      layer: packageLayer(ctx.tree, info)?.layer ?? db.layer,
      location: db.location,
      sourceName: source?.name ?? info.name,
      // Built with the source's version, a package has its epoch too; a subpackage with a version of its own
      // (perl-Carp 1.50 from perl 5.32.1) may have its own epoch, so its source's is unknown.
      sourceVersion: !source
        ? version
        : source.version === info.version && source.release === info.release
          ? version
          : evr(undefined, source.version, source.release),
      ...(release ? { release } : {}),
      ...(info.license ? { licenses: [info.license] } : {}),
    });
  }
  if (skipped.length > 0) {
    ctx.warn?.({
      cataloger: NAME,
      location: db.location,
      message: `${skipped.length} of ${blobs.length} package header(s) skipped as malformed: ${skipped.slice(0, 3).join('; ')}${skipped.length > 3 ? '; …' : ''}`,
      skipped: skipped.length,
    });
  }
  return out;
}

export const rpmCataloger: Cataloger = {
  name: NAME,
  policy: { keep: (path) => KEPT.has(path), inspectors: [] },
  catalog: catalogRpm,
};
