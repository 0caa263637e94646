import { defineSearchAttributeKey } from '@temporalio/common';

/**
 * Search attributes of a delivery chain, for filtering in the Temporal UI
 * (e.g. `DcVerdict = "denied" AND DcCriticalCount > 0`). Registered by the local dev server;
 * `dchain setup-temporal` registers them on an existing cluster.
 */
export const SEARCH_ATTRIBUTE_TYPES = {
  DcRepository: 'Keyword',
  DcDigest: 'Keyword',
  DcTags: 'KeywordList',
  DcStage: 'Keyword',
  DcVerdict: 'Keyword',
  DcCriticalCount: 'Int',
  DcHighCount: 'Int',
} as const;

export const DcRepository = defineSearchAttributeKey('DcRepository', 'KEYWORD');
export const DcDigest = defineSearchAttributeKey('DcDigest', 'KEYWORD');
export const DcTags = defineSearchAttributeKey('DcTags', 'KEYWORD_LIST');
export const DcStage = defineSearchAttributeKey('DcStage', 'KEYWORD');
export const DcVerdict = defineSearchAttributeKey('DcVerdict', 'KEYWORD');
export const DcCriticalCount = defineSearchAttributeKey('DcCriticalCount', 'INT');
export const DcHighCount = defineSearchAttributeKey('DcHighCount', 'INT');
