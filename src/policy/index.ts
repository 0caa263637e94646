/** The policy gate's public surface: policy files, evaluation, the decision store. Admission lives in ./admission. */
export { evaluatePolicy, summarizeDecision, type EvaluationContext } from './evaluate';
export { type Decision, type Violation, decisionSchema } from './decision';
export { imageFactsSchema, type ImageFacts, type ImageFactsInput, type FindingFact, type HygieneFacts } from './image-facts';
export { factsFromScan, type ProvenanceFacts } from './facts-from-scan';
export { loadPolicyFile, parsePolicy, type LoadedPolicy } from './policy-file';
export { defaultPolicy, DEFAULT_POLICY } from './default-policy';
export { policyFromConfig } from './policy-from-config';
export { policySchema, type Policy, type PolicyRule, type Mode } from './policy-schema';
export { policyJsonSchema } from './json-schema';
export { lintPolicy } from './lint';
export { matchSidecar } from './sidecars';
export { DecisionStore, recordAllows, type DecisionRecord, type DigestPage, type Override, type InvalidationReason } from './decision-store';
export { regate, type RegateOutcome } from './regate';
