/** The build stage's public surface: source builds, build rules, Git push webhooks, and pushed-image records. */
export { buildRequestFromPush } from './rules';
export { startBuildChain } from './start-chain';
export { buildFromSource, type BuildProgress } from './build-from-source';
export { type BuiltImage } from './built-image';
export { resolveRemoteRef } from './git';
export { gitWebhookRoutes } from './git-webhook/plugin';
export { describePushedImage, type PushedImage } from './pushed-image';
export { stagingRepository, templateValues } from './rules';
export { BuildRecordStore } from './build-records';
