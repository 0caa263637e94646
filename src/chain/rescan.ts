/** The `rescan` workflow's argument and the summary its `progress` query and result answer. */

/** The configuration's `rescan.*` settings (`rescanSettings(config)`; the configuration schema holds their defaults). */
export interface RescanSettings {
  /** Digests listed per page. */
  batchSize: number;
  /** Images rescanned at the same time. */
  concurrency: number;
  /** Continue as new after this many pages (besides the history limits); unset = history limits only. */
  batchesPerRun?: number;
  /** Batched: pages re-matched and re-gated at the same time, each by one activity on any scan worker; unset = one at a time. */
  parallelBatches?: number;
  /**
   * Re-match and re-gate a page of images per activity, and only the images under packages whose
   * OSV records changed since the last rescan (see src/scan/fleet). The schedule sets it; a rescan
   * started without it runs image by image, as rescans did before.
   */
  batched?: boolean;
}

/** What a batched rescan planned when it started (kept across continue-as-new). */
export interface RescanPlanRef {
  mode: 'full' | 'delta';
  /** Full: why. Delta: how many package keys changed. */
  reason?: string;
  changedPackages?: number;
  /** Delta: the images planned (listed by the plan's pages). */
  images?: number;
  /**
   * Delta: images holding a changed version left alone, as no change of theirs reaches the findings
   * their decision keeps (each differs only below the rank those were cut at). Absent when the
   * planning worker no longer held the data the last rescan matched: then none is left alone.
   */
  belowCut?: number;
}

export interface RescanInput extends RescanSettings {
  /** Set when the rescan continues as new: the last digest done, and what was counted so far. */
  cursor?: string;
  progress?: RescanSummary;
  /** Batched only: re-match every gated image, whatever changed. */
  full?: boolean;
  /** Batched, continued as new: the plan of the first run. */
  plan?: RescanPlanRef;
}

export interface RescanProblem {
  digest: string;
  step: 'rescan' | 'regate' | 'attest' | 'deployments' | 'rebuild' | 'notify';
  error: string;
}

export interface RescanSummary {
  /** The OSV data the rescan refreshed to and matched against (empty until the refresh is done). */
  osv: { version: string; records: number };
  /** Every digest with a gate decision that the rescan went through. */
  checked: number;
  /** Images that could run and now may not, and the reverse (since subscribers last heard: a change not notified before counts again). */
  changedToDenied: number;
  changedToAllowed: number;
  /** Images whose verdict stayed (their record's scan time is refreshed). */
  unchanged: number;
  /** No stored SBOM (or decision) any more: nothing to rescan. */
  skipped: number;
  /** Images whose rescan kept failing after retries; see `problems`. */
  failed: number;
  /** New decisions recorded (the verdict or the findings changed). */
  recorded: number;
  /** Images the fresh decision denies that a break-glass override keeps admitted. */
  overridden: number;
  /** Images whose subscribers were notified: a verdict change, or new enforced violations under a break-glass override. */
  notified: number;
  /** The first failures met (skips are counted only), for the operator. */
  problems: RescanProblem[];
  /** Batched rescans: full or delta, and what the delta was planned from. */
  plan?: RescanPlanRef;
  /** Workflow runs the rescan took (it continues as new on large fleets). */
  runs: number;
  startedAt: string;
  finishedAt?: string;
}
