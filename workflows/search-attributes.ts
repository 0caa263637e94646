import { defineSearchAttributeKey } from '@temporalio/common';
import { type SearchAttributeName } from '../src/chain/search-attributes';

// The typed keys of the chain's search attributes (names, types and meaning: src/chain/search-attributes.ts).
const keyword = (name: SearchAttributeName) => defineSearchAttributeKey(name, 'KEYWORD');
const int = (name: SearchAttributeName) => defineSearchAttributeKey(name, 'INT');

export const DcRepository = keyword('DcRepository');
export const DcRepositoryName = keyword('DcRepositoryName');
export const DcDigest = keyword('DcDigest');
export const DcTags = defineSearchAttributeKey('DcTags' satisfies SearchAttributeName, 'KEYWORD_LIST');
export const DcStage = keyword('DcStage');
export const DcFailedStage = keyword('DcFailedStage');
export const DcVerdict = keyword('DcVerdict');
export const DcCriticalCount = int('DcCriticalCount');
export const DcHighCount = int('DcHighCount');
