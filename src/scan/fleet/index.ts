export { imagePackageKeys, MATCHER_VERSION, osvFingerprint } from './fingerprint';
export { deltaImages, rescanMode } from './plan';
export { findingsDigest, rematchStored, uncheckedRescan } from './rematch';
export { FleetIndex } from './fleet-index';
export { type StoredRescan } from '../rescan-findings';
export { toCycloneDx } from '../sbom/cyclonedx';
