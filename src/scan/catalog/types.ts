import { type FileTree } from '../fs/tree';
import { type CapturePolicy } from '../layers/capture';
import { type Package } from '../types';
import { type OsRelease } from './os-release';

/** Something a cataloger found but could not read: a corrupt database, records it skipped, a format it does not support. */
export interface CatalogWarning {
  cataloger: string;
  /** The file concerned. */
  location: string;
  message: string;
  /** Records skipped (packages not catalogued), when known. */
  skipped?: number;
}

export interface CatalogContext {
  tree: FileTree;
  os?: OsRelease;
  /** The image's architecture (config.architecture), for purls. */
  arch: string;
  /** Reports what could not be read; catalogers never throw for bad image content. */
  warn?: (warning: CatalogWarning) => void;
}

/** One package ecosystem: what files it needs while streaming, and how it reads them afterwards. */
export interface Cataloger {
  name: string;
  policy: CapturePolicy;
  catalog(ctx: CatalogContext): Package[] | Promise<Package[]>;
}
