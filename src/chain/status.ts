/** What the chain's workflows answer: the `status` and `progress` queries and their results. */

export type StageName = 'build' | 'scan' | 'gate' | 'sign' | 'sync' | 'distribute';
export type ChainStage = StageName | 'done' | 'blocked' | 'failed';

/** A break-glass override of a chain's gate (the `breakGlass` signal). */
export interface BreakGlass {
  actor: string;
  reason: string;
}

export interface ChainStatus {
  stage: ChainStage;
  tags: string[];
  results: Partial<Record<StageName, unknown>>;
  override?: BreakGlass;
  /** The stage a failed chain failed in. */
  failedAt?: StageName;
}

/** The `deliverTags` workflow's argument. */
export interface TagDeliveryInput {
  registry: string;
  repository: string;
  digest: string;
  tags: string[];
}

export interface TagDeliveryStatus {
  delivered: string[];
  pending: string[];
}
