/** Replication of images (with signatures, attestations and referrers) between registries. */
export { copyImage } from './copy-image';
export { type CopyProgress } from './progress';
export { mapRepository } from './repository-mapping';
export { syncToTargets, type SyncProgress, type SyncTargetResult } from './sync-targets';
