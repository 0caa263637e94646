import { ApplicationFailure } from '@temporalio/common';
import { type Redis } from 'ioredis';
import { type Config } from '../src/config/schema';
import { ChainError } from '../src/errors/chain-error';
import { type Logger } from '../src/log/logger';
import { type Decision, DecisionStore, evaluatePolicy, factsFromScan, type LoadedPolicy, policyFromConfig, type ProvenanceFacts, summarizeDecision } from '../src/policy';
import { type ScanSummary } from '../src/scan';
import { toActivityFailure } from './errors';
import { activityLogger, activityWorkflowId } from './log';

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
 * denies, fails for good: a non-retryable ApplicationFailure of type 'PolicyDenied' whose details
 * are the violations. `recordBreakGlass` stores an override after the workflow's breakGlass signal.
 */
export function createGateActivities(deps: GateDeps) {
  const policy = deps.policy ?? policyFromConfig(deps.config);
  const store = new DecisionStore(deps.redis);
  const now = deps.now ?? (() => new Date());

  return {
    async evaluateGate(input: GateInput): Promise<Decision> {
      const log = activityLogger(deps.logger, input.digest);
      try {
        if (input.scan.digest !== input.digest || input.scan.repository !== input.repository) {
          throw new ChainError('BAD_INPUT', `scan is of ${input.scan.repository}@${input.scan.digest}, not ${input.repository}@${input.digest}`);
        }
        const facts = parseFacts(input, registryHost(deps.config, input.registry));
        const decision = evaluatePolicy(facts, policy, now());
        await store.record(facts, decision, now());
        log.info({ allowed: decision.allowed, mode: decision.mode, violations: decision.violations.length, policyVersion: decision.policyVersion }, summarizeDecision(decision));
        if (!decision.allowed) {
          const enforced = decision.violations.filter((v) => v.enforced);
          throw ApplicationFailure.create({
            message: `policy ${decision.policyVersion} denies ${input.registry}/${input.repository}@${input.digest}: ${enforced.map((v) => v.message).join('; ')}`,
            type: 'PolicyDenied',
            nonRetryable: true,
            details: enforced,
          });
        }
        return decision;
      } catch (err) {
        return toActivityFailure(err);
      }
    },

    async recordBreakGlass(input: BreakGlassInput): Promise<void> {
      try {
        await store.recordOverride(input.digest, { actor: input.actor, reason: input.reason, workflowId: activityWorkflowId() }, now());
        activityLogger(deps.logger, input.digest).warn({ actor: input.actor, reason: input.reason }, 'break-glass override recorded');
      } catch (err) {
        return toActivityFailure(err);
      }
    },
  };
}

/** Policies name registries by host, as image references do; the chain passes configured names. */
function registryHost(config: Config, registry: string): string {
  const configured = config.registries.find((r) => r.name === registry);
  return configured ? new URL(configured.url).host : registry;
}

function parseFacts(input: GateInput, host: string) {
  try {
    return factsFromScan({ ...input.scan, registry: host }, input.provenance);
  } catch (cause) {
    throw new ChainError('BAD_INPUT', `gate input is not a valid scan summary: ${(cause as Error).message}`, { cause });
  }
}
