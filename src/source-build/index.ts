/** The build stage's public surface: source builds, build rules, Git push webhooks, and pushed-image records. */
export { buildFromSource, defaultTag, type BuildDeps, type BuildPhase, type BuildProgress } from './build-from-source';
export { buildRequestSchema, parseBuildRequest, type BuildRequest, type BuildRequestInput, type BuiltImage } from './build-request';
export { buildConfigSchema, type BuildConfig, type BuildRule, type GitSourceConfig, type StagingConfig } from '../config/sections/build';
export { summarizeDockerfile, type DockerfileSummary } from './dockerfile';
export { checkout, resolveRemoteRef } from './git';
export { BUILD_TYPE, SLSA_PROVENANCE_V1, slsaProvenance, type Provenance, type ProvenancePredicate } from './provenance';
export { describePushedImage, type PushedImage } from './pushed-image';
export { buildRequestFromPush, repositoryName } from './rules';
export { sourcePushedSchema, type SourcePushed } from './source-pushed';
export { startBuildChain, type BuildChainInput, type WorkflowStarter } from './start-chain';
export { gitWebhookRoutes, type GitWebhookOptions } from './git-webhook/plugin';
export { parseGitPush, type GitFormat, type ParsedPush } from './git-webhook/payloads';
export { verifyGitDelivery } from './git-webhook/verify';
