/** The OCI distribution client every stage uses to talk to registries. */
export { RegistryClient, type FetchedManifest, nextLink } from './client';
export { RegistryDirectory, registryHost } from './directory';
export { parseManifest, isManifestList, blobsOf, childManifestsOf } from './manifest';
export { MEDIA_TYPES } from './media-types';
export { parseImageReference, cosignTag, fallbackReferrersTag, type ImageReference } from './reference';
export { digestOf, SHA256_DIGEST, sha256DigestSchema } from './digest';
export { SYNC_USER_AGENT, CHAIN_VERSION, isSyncUserAgent } from './user-agent';
export { copyImage, mapRepository, type SyncProgress, type SyncTargetResult, syncToTargets } from './copy';
export { DigestVerifier, isDigest, verifyDigest } from './digest';
export { digestSchema, repositorySchema, tagSchema } from './schemas';
