/**
 * The rescan's gate: a digest's latest decision re-evaluated on the findings of its stored SBOM
 * matched against fresh OSV data. Pure: it says what to write and what changed; the decision store
 * writes it atomically and the rescan workflow notifies.
 */
import { type Finding, type OsvDataVersion, type VexStatement } from '../scan';
import { type Decision, type Violation } from './decision';
import { type DecisionRecord, type DecisionUpdate, factsWithout, type RescanMark, type StoredFindings, withFindingsOf } from './decision-store';
import { evaluatePolicy } from './evaluate';
import { findingFacts, vulnerabilityDataFacts } from './facts-from-scan';
import { findingCompareKey, findingFactsDigest, findingsCompareDigest } from './findings-digest';
import { type FindingFact, type ImageFacts } from './image-facts';
import { type LoadedPolicy } from './policy-file';

/** What the rescan found for a digest (a ScanSummary has these fields). */
export interface RescannedFindings {
  digest: string;
  scannedAt: string;
  findings: readonly Finding[];
  /** The rescan's statement about the OSV data it matched against: judged like the first scan's (missing or stale data denies). */
  vulnerabilityData?: OsvDataVersion;
  /** VEX attested on the image as the rescan read it; absent = keep the statements the gate saw. */
  vex?: readonly VexStatement[];
  /**
   * The findings and VEX are, fact for fact, those the latest record was gated on (the rescan matched the
   * digest the fleet index keeps of them, and the record still holds the findings it held then): unchanged,
   * told without digesting them again.
   */
  asGated?: boolean;
}

export interface RegateContext {
  policy: LoadedPolicy;
  now: Date;
  /** The rescan workflow: a retry of the same rescan finds its own mark and changes nothing. */
  workflowId: string;
  osvVersion: string;
}

/** How the image's right to run changed: `denied` = it ran before and may not now; `allowed` = the reverse. */
export type VerdictChange = 'denied' | 'allowed' | 'unchanged';

export interface RegateOutcome {
  /** Compared with the verdict subscribers last heard of (the previous decision's, unless a change is still unnotified). */
  verdict: VerdictChange;
  /** The fresh decision's verdict, and the one `verdict` compares with. */
  allowed: boolean;
  previousAllowed: boolean;
  /** The fresh decision denies, a break-glass override keeps the image running. */
  overridden: boolean;
  findingsChanged: boolean;
  /** A new decision joins the digest's history (the verdict, findings, policy, data problems or suppressions changed). */
  recorded: boolean;
  /**
   * What subscribers are to be told, unset when nothing: the verdict changed, or a break-glass
   * override now covers new enforced violations (`denied`, with `overridden`). Includes a change an
   * earlier rescan found and could not notify.
   */
  notify?: 'denied' | 'allowed';
  /** The decision the image now stands under. */
  decision: Decision;
}

/**
 * Re-evaluates `previous` on the rescanned findings. When the verdict, the findings, the policy, the
 * problems with the vulnerability data or the suppressions changed, the update is a new decision (the
 * override, if any, carried over); otherwise it only refreshes the latest record's scan time, so a
 * policy's `maxScanAge` sees the rescan. Provenance and hygiene facts are the ones the gate saw: the
 * SBOM does not change, only what is known about its packages.
 * The mark written says whether subscribers still have to hear of a change (`notified: false`).
 * `stored` (DecisionStore.update) names the record's findings by their digests: findings with the same
 * facts digest are the same, told without reading the record's findings back, which a refresh then keeps
 * unread; with another, the compare digest (records written since it exists) tells whether they changed
 * as sameFindings would, still without reading them.
 */
export function regate(
  previous: DecisionRecord,
  scan: RescannedFindings,
  context: RegateContext,
  stored?: StoredFindings,
): { update: DecisionUpdate | undefined; outcome: RegateOutcome } {
  const override = previous.override;
  const mark = previous.lastRescan;
  if (mark && mark.workflowId === context.workflowId) {
    // This rescan already wrote the record (a retried activity): report what it did, write nothing.
    const allowed = previous.decision.allowed;
    const verdict = verdictChange(mark.previousAllowed || override !== undefined, allowed || override !== undefined);
    const notify = mark.notified ? undefined : verdict === 'unchanged' ? 'denied' : verdict;
    return {
      update: undefined,
      outcome: {
        verdict,
        allowed,
        previousAllowed: mark.previousAllowed,
        overridden: !allowed && override !== undefined,
        findingsChanged: mark.findingsChanged,
        recorded: mark.recorded,
        ...(notify ? { notify } : {}),
        decision: previous.decision,
      },
    };
  }

  const findings = findingFacts(scan.findings);
  // The data statement is the rescan's own: without one, the data is unknown (never the first scan's, which may have gone stale since).
  const kept = factsWithout(previous.facts, 'vulnerabilityData');
  const data = vulnerabilityDataFacts(scan.vulnerabilityData);
  // Not validated again: `previous` was parsed where it left Redis, the findings come from the matcher
  // (or were parsed where they left Redis), so every part is of its parsed type already.
  const facts: ImageFacts = {
    ...kept,
    scannedAt: scan.scannedAt,
    findings,
    ...(data ? { vulnerabilityData: data } : {}),
    ...(scan.vex ? { vex: [...scan.vex] } : {}),
  };
  const decision = evaluatePolicy(facts, context.policy, context.now);
  // An earlier rescan's change that subscribers never heard of: compare with what they last heard.
  const unnotified = mark?.notified === false ? mark : undefined;
  const previousAllowed = unnotified ? unnotified.previousAllowed : previous.decision.allowed;
  // Told by the fleet index's digest of what the decision was gated on, when it matched (most images of a
  // full rescan: digesting the facts of each image's 500 findings cost about 4 s of one over 10,000 images).
  const findingsChanged = scan.asGated
    ? false
    : stored !== undefined && stored.digest === findingFactsDigest(findings)
      ? false
      : stored?.compareDigest !== undefined
        ? stored.compareDigest !== findingsCompareDigest(findings)
        : !sameFindings(previous.facts.findings, findings);
  // A statement that starts or stops suppressing (new VEX, an expiry) is a change worth a record too. So is
  // another policy, or other problems with the vulnerability data: a decision denied for one reason that
  // now denies for another would otherwise keep showing (admission included) the first reason and policy.
  const recorded =
    findingsChanged ||
    decision.allowed !== previous.decision.allowed ||
    decision.policyVersion !== previous.decision.policyVersion ||
    !sameDataProblems(previous.facts.vulnerabilityData, facts.vulnerabilityData) ||
    !sameSuppressions(previous.decision, decision);
  const verdict = verdictChange(previousAllowed || override !== undefined, decision.allowed || override !== undefined);
  const overridden = !decision.allowed && override !== undefined;
  const notify =
    verdict !== 'unchanged' ? verdict : overridden && (unnotified !== undefined || newEnforcedViolations(previous.decision, decision)) ? 'denied' : undefined;
  const lastRescan: RescanMark = {
    workflowId: context.workflowId,
    osvVersion: context.osvVersion,
    at: context.now.toISOString(),
    previousAllowed,
    findingsChanged,
    recorded,
    notified: notify === undefined,
  };
  const update: DecisionUpdate = recorded
    ? { kind: 'decision', reason: 'rescan', record: { decision, facts, recordedAt: context.now.toISOString(), ...(override ? { override } : {}), lastRescan } }
    : { kind: 'refresh', record: { ...previous, facts: withFindingsOf(previous.facts, factsWithout(facts)), lastRescan } };
  return {
    update,
    outcome: {
      verdict,
      allowed: decision.allowed,
      previousAllowed,
      overridden,
      findingsChanged,
      recorded,
      ...(notify ? { notify } : {}),
      decision: recorded ? decision : previous.decision,
    },
  };
}

function verdictChange(before: boolean, after: boolean): VerdictChange {
  if (before === after) return 'unchanged';
  return after ? 'allowed' : 'denied';
}

/** Same advisories for the same package versions, with the same severity and fix (order and aliases aside). */
function sameFindings(a: readonly FindingFact[], b: readonly FindingFact[]): boolean {
  if (a.length !== b.length) return false;
  // Both sides usually come from the matcher in its one order: equal in that order needs no sorting.
  if (a.every((f, i) => sameFact(f, b[i]!))) return true;
  const left = a.map(findingCompareKey).sort();
  const right = b.map(findingCompareKey).sort();
  return left.every((k, i) => k === right[i]);
}

function sameFact(x: FindingFact, y: FindingFact): boolean {
  return (
    x.id === y.id &&
    x.package === y.package &&
    x.version === y.version &&
    x.ecosystem === y.ecosystem &&
    x.severity === y.severity &&
    x.fixable === y.fixable &&
    (x.fixedVersion ?? '') === (y.fixedVersion ?? '')
  );
}

/** Whether `a` and `b` hold the same items, each told by its `key`, as many times each (order aside). */
function sameItems<T>(a: readonly T[], b: readonly T[], key: (item: T) => string): boolean {
  const keys = (items: readonly T[]) => items.map(key).sort().join('\u0001');
  return a.length === b.length && keys(a) === keys(b);
}

/**
 * The same problems with the vulnerability data, told apart by kind, ecosystem and message; a stale
 * ecosystem's by kind and ecosystem alone (its message gives the data's age, which moves with every rescan).
 */
function sameDataProblems(a: ImageFacts['vulnerabilityData'], b: ImageFacts['vulnerabilityData']): boolean {
  return sameItems(a?.problems ?? [], b?.problems ?? [], (p) => `${p.kind}\u0000${p.ecosystem}\u0000${p.kind === 'stale' ? '' : p.message}`);
}

function sameSuppressions(a: Decision, b: Decision): boolean {
  return sameItems(a.suppressed ?? [], b.suppressed ?? [], (s) => `${s.id}\u0000${s.package}\u0000${s.version}\u0000${s.reason}`);
}

/** Enforced violations of `next` that `before` did not have (the same check on the same advisory and package). */
function newEnforcedViolations(before: Decision, next: Decision): boolean {
  const key = (v: Violation) =>
    [v.rule, v.policyRule, String(v.evidence.id ?? ''), String(v.evidence.package ?? ''), String(v.evidence.version ?? '')].join('\u0000');
  const known = new Set(before.violations.filter((v) => v.enforced).map(key));
  return next.violations.some((v) => v.enforced && !known.has(key(v)));
}
