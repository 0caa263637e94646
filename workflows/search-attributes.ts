import { defineSearchAttributeKey } from '@temporalio/common';

/**
 * Search attributes of a delivery chain, for filtering in the Temporal UI
 * (e.g. `DcVerdict = "denied" AND DcCriticalCount > 0`). Registered by the local dev server;
 * `dchain setup-temporal` registers them on an existing cluster.
 */
export const SEARCH_ATTRIBUTE_TYPES = {
  DcRepository: 'Keyword',
  DcRepositoryName: 'Keyword',
  DcDigest: 'Keyword',
  DcTags: 'KeywordList',
  DcStage: 'Keyword',
  DcVerdict: 'Keyword',
  DcCriticalCount: 'Int',
  DcHighCount: 'Int',
} as const;

/** `<registry name>/<repository>`, e.g. `source/demo/app`: the same repository name in two registries stays apart. */
export const DcRepository = defineSearchAttributeKey('DcRepository', 'KEYWORD');
/**
 * The repository alone, e.g. `demo/app`, what ops filter by (`DcRepositoryName = "demo/app"`). Set when
 * the chain is started (by the queue worker, `dchain build`, break-glass), so workflow code and
 * recorded histories are unchanged.
 */
export const DcRepositoryName = defineSearchAttributeKey('DcRepositoryName', 'KEYWORD');
export const DcDigest = defineSearchAttributeKey('DcDigest', 'KEYWORD');
export const DcTags = defineSearchAttributeKey('DcTags', 'KEYWORD_LIST');
export const DcStage = defineSearchAttributeKey('DcStage', 'KEYWORD');
export const DcVerdict = defineSearchAttributeKey('DcVerdict', 'KEYWORD');
export const DcCriticalCount = defineSearchAttributeKey('DcCriticalCount', 'INT');
export const DcHighCount = defineSearchAttributeKey('DcHighCount', 'INT');
