/**
 * What the scan and rescan activities of one worker share: one OSV source (its database is large:
 * one copy per worker), the SBOM store, the attached-VEX reader, and the rescan's one refresh per
 * OSV version.
 */
import { readFileSync } from 'node:fs';
import { type Config } from '../src/config';
import { ChainError } from '../src/errors';
import { policyFromConfig } from '../src/policy';
import { type RegistryClient } from '../src/registry';
import { type Finding, type OsvSource, osvSourceFromConfig, readAttachedVex, RedisSbomStore, vexOutcome, type VexStatement } from '../src/scan';
import { type ActivityDeps } from './deps';

export interface ScanContext {
  osv: OsvSource;
  sbomStore: RedisSbomStore;
  vex: ReturnType<typeof attachedVexReader>;
  /** Refreshes this worker's OSV data once for a rescan's version, however many images ask at once. */
  refreshFor(osvVersion: string, workflowId: string): Promise<void>;
}

const contexts = new WeakMap<ActivityDeps, ScanContext>();

export function scanContext(deps: ActivityDeps): ScanContext {
  let context = contexts.get(deps);
  if (context) return context;
  const osv = osvSourceFromConfig(deps.config, deps.logger);
  // The rescan's OSV version this worker last refreshed for: one refresh per rescan, shared by the
  // images that ask at the same time, even when upstream data has moved on past that version since.
  let refreshedFor: { osvVersion: string; done: Promise<void> } | undefined;
  const refreshFor = (osvVersion: string, workflowId: string): Promise<void> => {
    if (refreshedFor?.osvVersion !== osvVersion) {
      const done = osv.refresh().then(
        (db) => {
          if (db.info.version !== osvVersion)
            deps.logger.warn(
              { workflowId, expected: osvVersion, osvVersion: db.info.version },
              'OSV data changed since the rescan refreshed it; matching the newer data',
            );
        },
        (err: unknown) => {
          // A failed refresh is tried again by the next image (or the activity's retry).
          if (refreshedFor?.done === done) refreshedFor = undefined;
          throw err;
        },
      );
      refreshedFor = { osvVersion, done };
    }
    return refreshedFor.done;
  };
  context = { osv, sbomStore: new RedisSbomStore(deps.redis), vex: attachedVexReader(deps.config), refreshFor };
  contexts.set(deps, context);
  return context;
}

/**
 * VEX attested on images, believed only when signed by a trusted key (signing.trustedKeys and the
 * policy's trustedKeys), and the findings it (or a VEX document of the policy) suppresses marked so
 * scan results and their attestation show it. The gate decides again with the rule's allowlist too.
 */
function attachedVexReader(config: Config) {
  // Read on first use: a scan-only worker that never scans needs neither.
  let loaded: { keys: string[]; policyVex: readonly VexStatement[] } | undefined;
  const load = () => {
    if (!loaded) {
      const policy = policyFromConfig(config);
      const keys = config.signing.trustedKeys.map((file) => {
        try {
          return readFileSync(file, 'utf8');
        } catch (cause) {
          throw new ChainError('CONFIG_UNREADABLE', `cannot read trusted key ${file}: ${(cause as Error).message}`, { cause });
        }
      });
      loaded = { keys: [...keys, ...policy.keys.values()], policyVex: policy.vex ?? [] };
    }
    return loaded;
  };
  return {
    read: (client: RegistryClient, repository: string, digest: string) => readAttachedVex(client, repository, digest, load().keys),
    annotate(findings: Finding[], attached: readonly VexStatement[], digest: string): Finding[] {
      const statements = [...attached, ...load().policyVex];
      if (statements.length === 0) return findings;
      const now = new Date();
      return findings.map((f) => {
        const { suppressedBy } = vexOutcome({ id: f.id, aliases: f.aliases, package: f.package.name, purl: f.package.purl }, statements, digest, now);
        return suppressedBy ? { ...f, suppressedBy } : f;
      });
    },
  };
}
