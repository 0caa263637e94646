/** The OCI distribution client every stage uses to talk to registries. */
export { RegistryClient, type RegistryClientOptions, type FetchedManifest, nextLink } from './client';
export { RegistryDirectory, registryHost, type DirectoryOptions } from './directory';
export {
  type Manifest,
  type OciManifest,
  type OciIndex,
  type DockerManifest,
  type DockerManifestList,
  type ImageManifest,
  type ManifestList,
  type Descriptor,
  type Platform,
  parseManifest,
  isManifestList,
  blobsOf,
  childManifestsOf,
  subjectOf,
  descriptorSchema,
} from './manifest';
export { MEDIA_TYPES, MANIFEST_MEDIA_TYPES, isManifestMediaType, isIndexMediaType } from './media-types';
export { parseImageReference, cosignTag, fallbackReferrersTag, isRepositoryName, type ImageReference } from './reference';
export { digestOf, isDigest, verifyDigest, SHA256_DIGEST, sha256DigestSchema } from './digest';
export { SYNC_USER_AGENT, DEFAULT_USER_AGENT, CHAIN_VERSION, isSyncUserAgent } from './user-agent';
export { type RetryPolicy } from './retry';
