/**
 * The chain's contract with Temporal, in one place: the names of its workflow types, signals,
 * queries and schedules, the ids of its workflows, and the failure types workflows branch on.
 * Every process (workflows, activities, workers, ingestion, the API, the CLI) names them from here,
 * and lint refuses these names as literals anywhere else. They are recorded in every workflow
 * history: renaming one breaks the replay of running and recorded chains.
 */
import { type ChainErrorCode } from '../errors';

export const WORKFLOW_TYPES = {
  /** One run per image digest: build → scan → gate → sign → sync → distribute. */
  deliveryChain: 'deliveryChain',
  /** New tags of a delivered digest: verify, sync, promote, notify. */
  deliverTags: 'deliverTags',
  /** The scheduled fleet rescan. */
  rescan: 'rescan',
  /** The scheduled catch-up on pushes whose notifications were lost. */
  reconcile: 'reconcile',
  /** An on-demand scan of the control API (`POST /v1/scans`): scan and policy, nothing recorded. */
  scanJob: 'scanJob',
} as const;

export const SIGNALS = {
  /** New tags for a chain or a tag delivery that runs: `{ tags: string[] }`. */
  addTags: 'addTags',
  /** A break-glass override of a chain's gate: `{ actor, reason }`. */
  breakGlass: 'breakGlass',
} as const;

export const QUERIES = {
  /** A chain's ChainStatus, or a tag delivery's TagDeliveryStatus. */
  status: 'status',
  /** A rescan's RescanSummary so far. */
  rescanProgress: 'progress',
} as const;

export const SCHEDULE_IDS = {
  /** Its runs are `dchain-rescan-<scheduled time>` (Temporal appends the time). */
  rescan: 'dchain-rescan',
  reconcile: 'dchain-reconcile',
} as const;

/**
 * The types of the Temporal failures workflows branch on. An activity's ChainError becomes a
 * failure of type `failureType(code)`: its code, except a policy denial, which keeps the name
 * recorded histories carry.
 */
export const FAILURE_TYPES = {
  /** An enforcing policy (the gate, or build hardening) refused the image: the chain ends blocked. */
  policyDenied: 'PolicyDenied',
  /** The scanner stopped at one of its limits (a bomb, too many files…): the chain ends blocked. */
  scanLimit: 'TOO_LARGE',
  /** How a chain blocked by a scan limit ends. */
  scanLimitExceeded: 'ScanLimitExceeded',
} as const;

export type FailureType = ChainErrorCode | (typeof FAILURE_TYPES)[keyof typeof FAILURE_TYPES];

/** The one mapping from the domain's error codes to the failure types of Temporal. */
export function failureType(code: ChainErrorCode): FailureType {
  return code === 'POLICY_DENIED' ? FAILURE_TYPES.policyDenied : code;
}

/** One workflow per image digest: `chain:<registry>/<repository>@<digest>`. */
export function chainWorkflowId(image: { registry: string; repository: string; digest: string }): string {
  return `chain:${image.registry}/${image.repository}@${image.digest}`;
}

/** One tag delivery per digest at a time: `tags:<registry>/<repository>@<digest>`. */
export function tagDeliveryWorkflowId(image: { registry: string; repository: string; digest: string }): string {
  return `tags:${image.registry}/${image.repository}@${image.digest}`;
}

/** One on-demand scan: `scan:<uuid>` (the control API's scan id). */
export function scanJobWorkflowId(uuid: string): string {
  return `scan:${uuid}`;
}

/** One chain per source repository and commit (or ref, before the commit is known): `build:<url>@<commit>`. */
export function buildChainWorkflowId(request: { repoUrl: string; commit?: string | undefined; ref: string; rebuildOf?: string | undefined }): string {
  const id = `build:${request.repoUrl}@${request.commit ?? request.ref}`;
  // A rescan's rebuild of a denied digest: one per digest, whatever was built from the ref before.
  return request.rebuildOf === undefined ? id : `${id}+rebuild-of:${request.rebuildOf}`;
}
