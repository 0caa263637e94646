/**
 * Which images a rescan re-matches. Full: every gated image (no earlier fingerprint, another
 * matcher or policy, or asked for). Delta: the images indexed under a package whose OSV records
 * changed, plus every image the index cannot vouch for (matched against other data than the last
 * rescan's, a change not yet told to subscribers, a verification summary near its expiry). Every
 * other image keeps its findings and decision as they are: its packages' records did not change, or
 * (mustRematch) their changes cannot reach the findings its decision was made on.
 */
import { changedPackages, MATCHER_VERSION, type OsvFingerprint } from './fingerprint';

export interface FingerprintState {
  osvVersion: string;
  matcher: string;
  policyVersion: string;
  /** When the last full rescan planned (a delta carries it over). */
  fullAt: string;
  fingerprint: OsvFingerprint;
}

export type RescanMode = { mode: 'full'; reason: string } | { mode: 'delta'; changed: string[] };

export function rescanMode(previous: FingerprintState | undefined, current: Pick<FingerprintState, 'policyVersion' | 'fingerprint'>, full = false): RescanMode {
  if (full) return { mode: 'full', reason: 'a full rescan was asked for' };
  if (!previous) return { mode: 'full', reason: 'no earlier rescan fingerprinted its OSV data' };
  if (previous.matcher !== MATCHER_VERSION) return { mode: 'full', reason: `the matcher changed (${previous.matcher} → ${MATCHER_VERSION})` };
  if (previous.policyVersion !== current.policyVersion)
    return { mode: 'full', reason: `the policy changed (${previous.policyVersion} → ${current.policyVersion})` };
  return { mode: 'delta', changed: changedPackages(previous.fingerprint, current.fingerprint) };
}

export interface FleetState {
  /** The OSV data version each indexed image was last matched against. */
  matched: ReadonlyMap<string, string>;
  /** Images whose last change subscribers have not heard of. */
  unnotified: readonly string[];
  /** Images the chain signs a verification summary for, with the time of the last one ('' = never, or its signing failed). */
  attested: ReadonlyMap<string, string>;
}

export interface DeltaSelection {
  /** Images under a changed package. */
  changedPackages: readonly string[];
  /** Every gated image. */
  gated: readonly string[];
  state: FleetState;
  /** The version the last rescan matched against: an image matched against anything else is re-matched. */
  previousOsvVersion: string;
  /** A summary signed at or before this time expires before the next rescan is done: sign it again now. */
  attestBefore: Date;
}

/**
 * The digests a delta rescan re-matches (`planned`), sorted, each once, each one gated; and those of
 * them it re-gates even when they match as before (`mustRegate`: an untold change, a summary due).
 */
export function deltaImages(selection: DeltaSelection): { planned: string[]; mustRegate: string[] } {
  const gated = new Set(selection.gated);
  const out = new Set<string>();
  const must = new Set<string>();
  for (const d of selection.changedPackages) out.add(d);
  for (const d of selection.gated) if (selection.state.matched.get(d) !== selection.previousOsvVersion) out.add(d);
  for (const d of selection.state.unnotified) must.add(d);
  const limit = selection.attestBefore.getTime();
  for (const [d, at] of selection.state.attested) {
    const t = at === '' ? Number.NaN : Date.parse(at);
    if (!(t > limit)) must.add(d);
  }
  for (const d of must) out.add(d);
  return { planned: [...out].filter((d) => gated.has(d)).sort(), mustRegate: [...must].filter((d) => gated.has(d)).sort() };
}

/**
 * Whether a delta must re-match an image that holds the version entries `changed` (whose hits differ
 * from the last rescan's), given the rank its kept findings were cut at when it was last matched
 * (undefined: not known, or nothing was left out: re-match). `changeRank` gives the best rank among
 * the findings a changed entry's package has differently now (versionChangeRank; -1: unknown).
 *
 * Why leaving the others alone is sound. The gate decides on the first MAX_SUMMARY_FINDINGS findings
 * in (rank, id, purl) order; cut at rank L, they are every finding ranked above L and the first of
 * those at L, so they stay the same as long as the image's findings ranked at or above L do. The
 * findings of a package come from its own versions' hits alone: when every changed version's
 * package differs only in findings ranked below L, the findings at or above L are the very same, and
 * so are the first ones and the rank they end at (the cut holds for the next delta too).
 */
export function mustRematch(cut: number | undefined, changed: readonly string[], changeRank: (entry: string) => number): boolean {
  return cut === undefined || changed.some((entry) => changeRank(entry) <= cut);
}
