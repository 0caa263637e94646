import { type FileTree } from '../fs/tree';
import { type CapturePolicy } from '../layers/capture';
import { type Package } from '../types';
import { type OsRelease } from './os-release';

export interface CatalogContext {
  tree: FileTree;
  os?: OsRelease;
  /** The image's architecture (config.architecture), for purls. */
  arch: string;
}

/** One package ecosystem: what files it needs while streaming, and how it reads them afterwards. */
export interface Cataloger {
  name: string;
  policy: CapturePolicy;
  catalog(ctx: CatalogContext): Package[] | Promise<Package[]>;
}
