import { type Redis } from 'ioredis';
import { type Config } from '../src/config';
import { ChainError } from '../src/errors';
import { RegistryDirectory } from '../src/registry';
import { type Logger } from '../src/log';
import {
  type Decision,
  DecisionStore,
  type DigestPage,
  evaluatePolicy,
  factsFromScan,
  type LoadedPolicy,
  policyFromConfig,
  type ProvenanceFacts,
  regate,
  type RegateOutcome,
  summarizeDecision,
  type Violation,
} from '../src/policy';
import { RescanFindingsStore, type ScanSummary } from '../src/scan';
import { activity } from './activity';

export interface GateDeps {
  config: Config;
  logger: Logger;
  redis: Redis;
  /** Overrides the configured policy file (tests, CLI). */
  policy?: LoadedPolicy;
  now?: () => Date;
}

export interface GateInput {
  /** A configured registry's name (as the chain passes it) or a registry host. */
  registry: string;
  repository: string;
  digest: string;
  scan: ScanSummary;
  /** Base image, verified signatures and attestations, when known before the gate. */
  provenance?: ProvenanceFacts;
}

export interface RegateInput {
  digest: string;
  /** The OSV data rescanImage matched the digest's stored SBOM against (its findings are kept under it). */
  osvVersion: string;
}

export interface RegateResult extends Omit<RegateOutcome, 'decision'> {
  digest: string;
  /** As the decision names it. */
  repository: string;
  policyVersion: string;
  /** The enforced violations of the decision the image now stands under (at most 20). */
  violations: Violation[];
  osvVersion: string;
}

/** Violations carried in a rescan result and its notification; the decision store keeps them all. */
const MAX_REPORTED_VIOLATIONS = 20;

export interface BreakGlassInput {
  digest: string;
  actor: string;
  reason: string;
}

/**
 * The policy gate stage. `evaluateGate` records every decision and, when an enforcing policy
 * denies, fails for good with POLICY_DENIED (a non-retryable failure whose details are the enforced
 * violations, as for every policy denial). `recordBreakGlass` stores an override after the workflow's breakGlass signal.
 */
export function createGateActivities(deps: GateDeps) {
  const policy = deps.policy ?? policyFromConfig(deps.config);
  const store = new DecisionStore(deps.redis);
  const rescans = new RescanFindingsStore(deps.redis);
  const now = deps.now ?? (() => new Date());
  // Policies name registries by host, as image references do; the chain passes configured names.
  const registries = new RegistryDirectory(deps.config.registries);

  return {
    evaluateGate: activity(deps.logger, { subject: (i: GateInput) => i.digest }, async (input, { log }): Promise<Decision> => {
      if (input.scan.digest !== input.digest || input.scan.repository !== input.repository) {
        throw new ChainError('BAD_INPUT', `scan is of ${input.scan.repository}@${input.scan.digest}, not ${input.repository}@${input.digest}`);
      }
      const facts = parseFacts(input, registries.hostOf(input.registry));
      const decision = evaluatePolicy(facts, policy, now());
      await store.record(facts, decision, now());
      log.info({ allowed: decision.allowed, mode: decision.mode, violations: decision.violations.length, policyVersion: decision.policyVersion }, summarizeDecision(decision));
      if (!decision.allowed) {
        const enforced = decision.violations.filter((v) => v.enforced);
        const message = `policy ${decision.policyVersion} denies ${input.registry}/${input.repository}@${input.digest}: ${enforced.map((v) => v.message).join('; ')}`;
        throw new ChainError('POLICY_DENIED', message, { details: { violations: enforced } });
      }
      return decision;
    }),

    /** One page of the digests that have a gate decision, for the rescan to walk through. */
    listGatedDigests: activity(deps.logger, {}, async (input: { after?: string; limit: number }, { log }): Promise<DigestPage> => {
      const page = await store.listDigests(input);
      log.debug({ after: input.after, listed: page.digests.length, more: page.next !== undefined }, 'gated digests listed');
      return page;
    }),

    /**
     * The rescan's gate: re-evaluates the digest's latest decision on its rescanned findings (kept
     * in Redis by rescanImage; gone = a non-retryable INTERNAL failure) and
     * records a new decision when the verdict or the findings changed (a break-glass override is
     * carried over), otherwise refreshes the record's scan time. Safe to retry: the record carries
     * the rescan's workflow id, and a retry reports what the first attempt wrote.
     * NOT_FOUND (non-retryable) when the digest has no decision any more.
     */
    regateImage: activity(deps.logger, { subject: (i: RegateInput) => i.digest, failure: 'rescan gate failed' }, async (input, { log, workflowId }): Promise<RegateResult> => {
      const scan = await rescans.get(input.digest, input.osvVersion);
      if (!scan) throw new ChainError('INTERNAL', `no rescanned findings of ${input.digest} for OSV data ${input.osvVersion} (expired or lost): the next rescan matches again`, { retryable: false });
      const at = now();
      let outcome: RegateOutcome | undefined;
      const { previous } = await store.update(input.digest, (latest) => {
        if (!latest) return undefined;
        const result = regate(latest, scan, { policy, now: at, workflowId, osvVersion: input.osvVersion });
        outcome = result.outcome;
        return result.update;
      });
      if (!previous || !outcome) throw new ChainError('NOT_FOUND', `no gate decision recorded for ${input.digest}`, { retryable: false });
      const { decision, ...rest } = outcome;
      const result: RegateResult = {
        ...rest,
        digest: input.digest,
        repository: previous.facts.repository,
        policyVersion: decision.policyVersion,
        violations: decision.violations.filter((v) => v.enforced).slice(0, MAX_REPORTED_VIOLATIONS),
        osvVersion: input.osvVersion,
      };
      const fields = { repository: result.repository, verdict: result.verdict, allowed: result.allowed, previousAllowed: result.previousAllowed, recorded: result.recorded, findingsChanged: result.findingsChanged, overridden: result.overridden, notify: result.notify, findings: scan.findings.length, osvVersion: result.osvVersion, policyVersion: result.policyVersion };
      if (result.verdict === 'denied') log.warn(fields, `rescan: now denied — ${result.violations.map((v) => v.message).join('; ')}`);
      else if (result.overridden && result.notify) log.warn({ ...fields, override: previous.override }, `rescan: new violations under a break-glass override — ${result.violations.map((v) => v.message).join('; ')}`);
      else if (result.overridden && result.recorded) log.warn({ ...fields, override: previous.override }, 'rescan: denied by policy, admitted by break-glass override');
      else log.info(fields, result.verdict === 'allowed' ? 'rescan: now allowed' : 'rescan: verdict unchanged');
      return result;
    }),

    /**
     * After the rescan notified subscribers of a digest's change: marks it told, so the next rescan
     * does not tell it again (one that could not notify leaves the mark unset and the next one does).
     */
    markRescanNotified: activity(deps.logger, { subject: (i: { digest: string }) => i.digest }, async (input, { log, workflowId }): Promise<boolean> => {
      const marked = await store.markRescanNotified(input.digest, workflowId);
      log.debug({ marked }, 'rescan notification marked');
      return marked;
    }),

    recordBreakGlass: activity(deps.logger, { subject: (i: BreakGlassInput) => i.digest }, async (input, { log, workflowId }): Promise<void> => {
      await store.recordOverride(input.digest, { actor: input.actor, reason: input.reason, workflowId }, now());
      log.warn({ actor: input.actor, reason: input.reason }, 'break-glass override recorded');
    }),
  };
}

function parseFacts(input: GateInput, host: string) {
  try {
    return factsFromScan({ ...input.scan, registry: host }, input.provenance);
  } catch (cause) {
    throw new ChainError('BAD_INPUT', `gate input is not a valid scan summary: ${(cause as Error).message}`, { cause });
  }
}
