export { describeStatement, suppresses, type VexFinding, type VexOutcome, vexOutcome } from './apply';
export { CYCLONEDX_VEX_PREDICATE_TYPE } from './cyclonedx';
export { readVexDocument, readVexText, type VexFormat, type VexReadOptions, type VexReadResult } from './document';
export { OPENVEX_PREDICATE_TYPE } from './openvex';
export { instant, type VexStatement, type VexStatementInput, vexStatementSchema, type VexStatus } from './statement';
export { readAttachedVex, type AttachedVex, VEX_PREDICATE_TYPES } from './attached';
