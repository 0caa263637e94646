/** The policy gate's public surface: policy files, evaluation, the decision store. Admission lives in ./admission. */
export { evaluatePolicy, summarizeDecision } from './evaluate';
export { type Decision, type Violation } from './decision';
export { imageFactsSchema, type ImageFacts, type ImageFactsInput } from './image-facts';
export { factsFromScan, type ProvenanceFacts } from './facts-from-scan';
export { loadPolicyFile, parsePolicy, type LoadedPolicy } from './policy-file';
export { defaultPolicy } from './default-policy';
export { policyFromConfig } from './policy-from-config';
export { policyJsonSchema } from './json-schema';
export { lintPolicy } from './lint';
export { DecisionStore, recordAllows, type DecisionRecord, type DigestPage } from './decision-store';
export { regate, type RegateOutcome } from './regate';
export { findingFactsDigest } from './findings-digest';
export { admissionDepsFromConfig, admissionRedis, buildAdmissionServer, signatureCheckFromVerifier } from './admission';
export { readFactsFile } from './facts-file';
