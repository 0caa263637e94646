export { imageIndex, MATCHER_VERSION, osvFingerprint, type OsvFingerprint, touchedVersions, versionChangeRank, versionDigests } from './fingerprint';
export { deltaImages, mustRematch, rescanMode } from './plan';
export { findingsDigest, rematchStored, uncheckedRescan } from './rematch';
export { FleetIndex, gatedRecordOf, heldThenOf } from './fleet-index';
export { type StoredRescan } from '../rescan-findings';
export { toCycloneDx } from '../sbom/cyclonedx';
export { type RescanView, rescanViewOf } from '../sbom/rescan-view';
