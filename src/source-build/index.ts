/** The build stage's public surface: source builds, build rules, Git push webhooks, and pushed-image records. */
;
;
;
;
;
;
;
export { buildRequestFromPush,  } from './rules';
;
export { startBuildChain,   } from './start-chain';
;
;
;
