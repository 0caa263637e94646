/** The scanner's public surface. */
export * from './types';
export { scanImage, rescanStored, MAX_SUMMARY_FINDINGS, type ScanImageDeps, type ScanResult } from './scan-image';
export { loadImage, type LayerProgress, type LoadedImage } from './image/load';
export { type ImageSource, type Platform, HOST_PLATFORM } from './image/source';
export { openLocalImage, parseImageInput, LOCAL_TRANSPORTS, type ImageInput, type LocalImage, type LocalTransport } from './image/local-sources';
export { DEFAULT_LAYER_LIMITS, type LayerLimits } from './layers/limits';
export { catalogImage, detectOs, osvRelease, type OsRelease } from './catalog';
export { checkHygiene, isRootUser } from './hygiene/checks';
export { OsvSource, OsvDatabase, DEFAULT_OSV_BASE_URL, matchPackages, type OsvSourceOptions } from './osv';
export { osvSourceFromConfig } from './osv/from-config';
export { toSarif } from './report/sarif';
export { toCycloneDx, packagesFromCycloneDx, parseCycloneDx, type CycloneDxBom, type StoredScan } from './sbom/cyclonedx';
export { RedisSbomStore, MemorySbomStore, type SbomStore } from './sbom/store';
export { compareDeb, compareApk, compareRpm, compareSemver, compareGo, comparePep440, compareMaven, comparatorFor } from './versions';
