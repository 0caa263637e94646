/** All catalogers, and the one call that runs them over a loaded image. */
import { combinePolicies } from '../layers/capture';
import { byCodeUnits } from '../code-unit-order';
import { type Package } from '../types';
import { apkCataloger } from './apk';
import { dpkgCataloger } from './dpkg';
import { goCataloger } from './go';
import { javaCataloger } from './java';
import { npmCataloger } from './npm';
import { detectOs, OS_RELEASE_PATHS, type OsRelease } from './os-release';
import { pythonCataloger } from './python';
import { rpmCataloger } from './rpm';
import { catalogSources, sourcesPolicy } from './sources';
import { type PackageSource } from '../sources';
import { type CatalogContext, type Cataloger, type CatalogWarning } from './types';

export const CATALOGERS: readonly Cataloger[] = [dpkgCataloger, apkCataloger, rpmCataloger, npmCataloger, pythonCataloger, goCataloger, javaCataloger];

/** Everything the catalogers need captured while the layers stream. */
export const catalogPolicy = combinePolicies([
  { keep: (path) => OS_RELEASE_PATHS.includes(path), inspectors: [] },
  ...CATALOGERS.map((c) => c.policy),
  sourcesPolicy,
]);

export async function catalogImage(
  ctx: Omit<CatalogContext, 'os'>,
): Promise<{ os?: OsRelease; packages: Package[]; warnings: CatalogWarning[]; sources: PackageSource[] }> {
  const os = detectOs(ctx.tree);
  const warnings: CatalogWarning[] = [];
  const full: CatalogContext = {
    ...ctx,
    ...(os ? { os } : {}),
    warn: (w) => {
      warnings.push(w);
      ctx.warn?.(w);
    },
  };
  const packages: Package[] = [];
  for (const c of CATALOGERS) packages.push(...(await c.catalog(full)));
  packages.sort(
    (a, b) => byCodeUnits(a.ecosystem, b.ecosystem) || byCodeUnits(a.name, b.name) || byCodeUnits(a.version, b.version) || byCodeUnits(a.location, b.location),
  );
  return { ...(os ? { os } : {}), packages, warnings, sources: catalogSources(ctx.tree) };
}

export { detectOs, osvRelease, type OsRelease } from './os-release';
export type { Cataloger, CatalogContext, CatalogWarning } from './types';
