/** Replication of images (with signatures, attestations and referrers) between registries. */
export { copyImage, type CopyImageOptions, type CopyResult } from './copy-image';
export { type CopyProgress } from './progress';
export { mapRepository, type RepositoryMapping } from './repository-mapping';
export { syncToTargets, type SyncProgress, type SyncRequest, type SyncTarget, type SyncTargetResult } from './sync-targets';
