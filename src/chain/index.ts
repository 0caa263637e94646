/**
 * The chain's contract: workflow types, ids, input, signals, queries, schedules, search attributes
 * and failure types. Workflows import the files they need (names.ts, status.ts, rescan.ts: no zod,
 * no I/O); everything else imports from here.
 */
export {
  buildChainWorkflowId,
  chainWorkflowId,
  FAILURE_TYPES,
  failureType,
  type FailureType,
  QUERIES,
  scanJobWorkflowId,
  SCHEDULE_IDS,
  SIGNALS,
  tagDeliveryWorkflowId,
  WORKFLOW_TYPES,
} from './names';
export { type AddTagsSignal, chainInputSchema, type ChainInput, type ImagePushed, imagePushedSchema } from './input';
export { type BreakGlass, type ChainStage, type ChainStatus, type StageName, type TagDeliveryInput, type TagDeliveryStatus } from './status';
export { type RescanInput, type RescanPlanRef, type RescanProblem, type RescanSettings, type RescanSummary } from './rescan';
export { SEARCH_ATTRIBUTE_TYPES, type SearchAttributeName } from './search-attributes';
export { buildRequestSchema, type BuildRequest, type BuildRequestInput, commitSchema, parseBuildRequest, repoUrlSchema } from './build-request';
