/** The scanner's public surface (image-scan.ts is the narrower one of the scan command). */
export * from './types';
export { scanImage, rescanStored, type ScanResult } from './scan-image';
export { loadImage } from './image/load';
export { type Platform } from './image/source';
export { openLocalImage } from './image/local-sources';
export { isRootUser } from './hygiene/checks';
export { type OsvDatabase, OsvSource } from './osv';
export { osvSourceFromConfig } from './osv/from-config';
export { RedisSbomStore, MemorySbomStore } from './sbom/store';
export { osvDownloadBanner } from './osv/status';
export { RescanFindingsStore } from './rescan-findings';
export { type PackageSource, packageSourceSchema } from './sources';
export { describeStatement, readAttachedVex, readVexText, vexOutcome, type VexStatement } from './vex';
export { vexStatementSchema } from './vex/statement';
export { vulnerabilityDataProblemSchema } from './data-problem';
export { heapBound } from './heap-bound';
export { byCodeUnits } from './code-unit-order';
export {
  deltaImages,
  FleetIndex,
  gatedRecordOf,
  heldThenOf,
  imageIndex,
  MATCHER_VERSION,
  osvFingerprint,
  type OsvFingerprint,
  versionDigests,
  versionChangeRank,
  touchedVersions,
  mustRematch,
  findingsDigest,
  rematchStored,
  type RescanView,
  rescanViewOf,
  uncheckedRescan,
  rescanMode,
  type StoredRescan,
  toCycloneDx,
} from './fleet';
