export { describeStatement, vexOutcome } from './apply';
export { readVexDocument, readVexText } from './document';
export { type VexStatement } from './statement';
export { readAttachedVex } from './attached';
