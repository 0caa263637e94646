/**
 * The chain's search attributes, for filtering in the Temporal UI (e.g. `DcVerdict = "denied" AND
 * DcCriticalCount > 0`): names and types. Registered by the local dev server and by
 * `dchain setup-temporal` on an existing cluster; workflows/search-attributes.ts makes the typed keys.
 */
export const SEARCH_ATTRIBUTE_TYPES = {
  /** `<registry name>/<repository>`, e.g. `source/demo/app`: the same repository name in two registries stays apart. */
  DcRepository: 'Keyword',
  /**
   * The repository alone, e.g. `demo/app`, what ops filter by (`DcRepositoryName = "demo/app"`). Set when
   * the chain is started (by the queue worker, `dchain build`, break-glass), so workflow code and
   * recorded histories are unchanged.
   */
  DcRepositoryName: 'Keyword',
  DcDigest: 'Keyword',
  DcTags: 'KeywordList',
  /** The stage the chain is in, or how it ended (done, blocked, failed). */
  DcStage: 'Keyword',
  /**
   * The stage a failed run failed in (`build`, `scan`, `gate`, `sign`, `sync`, `distribute`), so ops can ask
   * for "chains that failed in sync": `DcFailedStage = "sync" AND ExecutionStatus = "Failed"` (DcStage only
   * says `failed`). Absent on runs that did not fail; a run that completes removes one it carried from its start.
   */
  DcFailedStage: 'Keyword',
  DcVerdict: 'Keyword',
  DcCriticalCount: 'Int',
  DcHighCount: 'Int',
} as const;

export type SearchAttributeName = keyof typeof SEARCH_ATTRIBUTE_TYPES;
