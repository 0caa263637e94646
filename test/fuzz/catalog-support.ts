/** Runs every cataloger over a tree the way a scan does: catalogers report bad content as warnings, never throw. */
import assert from 'node:assert/strict';
import { catalogImage } from '../../src/scan/catalog';
import { type Package } from '../../src/scan/types';
import { treeOf } from './seeds';

export const OS_RELEASE = { debian: 'ID=debian\nVERSION_ID="12"\n', alpine: 'ID=alpine\nVERSION_ID=3.19.1\n', rocky: 'ID="rocky"\nVERSION_ID="9.3"\n' };

export async function catalogFiles(files: Record<string, string | Buffer>): Promise<Package[]> {
  const { packages } = await catalogImage({ tree: treeOf(files), arch: 'amd64' });
  return packages;
}

/** Every package has a name, a version and a purl: nothing half-read is reported. */
export function wellFormed(packages: Package[]): void {
  for (const p of packages) assert.ok(p.name && p.version && p.purl, `package ${JSON.stringify(p)}`);
}
