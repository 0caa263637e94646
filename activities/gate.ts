import { type Redis } from 'ioredis';
import { type Config } from '../src/config';
import { ChainError } from '../src/errors';
import { RegistryDirectory } from '../src/registry';
import { type Logger } from '../src/log';
import {
  type Decision,
  DecisionStore,
  evaluatePolicy,
  factsFromScan,
  findingFactsDigest,
  type LoadedPolicy,
  policyFromConfig,
  type ProvenanceFacts,
  summarizeDecision,
} from '../src/policy';
import { findingsDigest, FleetIndex, type ScanSummary } from '../src/scan';
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
  const fleet = new FleetIndex(deps.redis);
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
      // As a rescan's re-gate leaves it: the first rescan that matches these findings again takes them as
      // gated, without digesting them (the record's own digest, checked then, tells if anything wrote it since).
      await fleet.setGatedRecord(input.digest, findingsDigest(input.scan.findings, input.scan.vex?.statements), findingFactsDigest(facts.findings));
      log.info(
        { allowed: decision.allowed, mode: decision.mode, violations: decision.violations.length, policyVersion: decision.policyVersion },
        summarizeDecision(decision),
      );
      if (!decision.allowed) {
        const enforced = decision.violations.filter((v) => v.enforced);
        const message = `policy ${decision.policyVersion} denies ${input.registry}/${input.repository}@${input.digest}: ${enforced.map((v) => v.message).join('; ')}`;
        throw new ChainError('POLICY_DENIED', message, { details: { violations: enforced } });
      }
      return decision;
    }),

    /**
     * An on-demand scan's verdict (`POST /v1/scans`): the same evaluation as the chain's gate, but
     * neither recorded (admission must follow chains, not ad-hoc scans) nor thrown on a deny.
     */
    previewGate: activity(deps.logger, { subject: (i: GateInput) => i.digest }, async (input): Promise<Decision> => {
      if (input.scan.digest !== input.digest || input.scan.repository !== input.repository) {
        throw new ChainError('BAD_INPUT', `scan is of ${input.scan.repository}@${input.scan.digest}, not ${input.repository}@${input.digest}`);
      }
      return evaluatePolicy(parseFacts(input, registries.hostOf(input.registry)), policy, now());
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
