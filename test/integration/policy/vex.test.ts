/**
 * VEX attached to a real image as a cosign attestation (made by cosign itself) suppresses a finding
 * in the scan and gate activities against a real registry and Redis, and every rescan after keeps
 * applying it; the same statement signed by an untrusted key changes nothing.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { createActivityDeps } from '../../../activities/deps';
import { createGateActivities } from '../../../activities/gate';
import { createRescanActivities, type RegateResult, type RescannedImage } from '../../../activities/rescan';
import { createScanActivities } from '../../../activities/scan';
import { parseConfig } from '../../../src/config/load';
import { createLogger } from '../../../src/log/logger';
import { type Decision, DecisionStore, type Violation } from '../../../src/policy';
import { type ScanSummary } from '../../../src/scan';
import { busyboxSpec, type ImageFile, pushImage, writeOciImage } from '../../support/images';
import { onCleanup, testDataDir, useRedis, useRegistry } from '../../support/services';
import { COSIGN_KEY_SIGN_FLAGS } from '../../support/cosign';
import { COSIGN_REGISTRY_FLAGS, cosignPath, runTool, writeKeyPair } from '../signing/support';

// A real OSV record: lodash CVE-2019-10744 (GHSA-jf85-cpcp-j695), CRITICAL, fixed in 4.17.12.
const LODASH_CRITICAL = join(__dirname, '..', '..', 'fixtures', 'osv', 'npm', 'GHSA-jf85-cpcp-j695.json');

const appSpec = (variant: string) =>
  busyboxSpec({
    user: '1000',
    extra: [
      { path: 'app', type: 'directory' },
      { path: 'app/VARIANT', content: variant },
      { path: 'app/package.json', content: JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { lodash: '4.17.11' } }) },
      { path: 'app/node_modules', type: 'directory' },
      { path: 'app/node_modules/lodash', type: 'directory' },
      { path: 'app/node_modules/lodash/package.json', content: JSON.stringify({ name: 'lodash', version: '4.17.11', license: 'MIT' }) },
    ] satisfies ImageFile[],
  });

/** OpenVEX as `vexctl create` writes it: lodash in this image is not affected (the vulnerable function is never called). */
const openVex = (digest: string) => ({
  '@context': 'https://openvex.dev/ns/v0.2.0',
  '@id': 'https://example.com/vex/app-1',
  author: 'App Team <app@example.com>',
  timestamp: '2026-01-10T10:00:00Z',
  version: 1,
  statements: [
    {
      vulnerability: { name: 'CVE-2019-10744' },
      products: [{ '@id': `pkg:oci/app@${digest.replace(':', '%3A')}`, subcomponents: [{ '@id': 'pkg:npm/lodash@4.17.11' }] }],
      status: 'not_affected',
      justification: 'vulnerable_code_not_in_execute_path',
    },
  ],
});

void describe('VEX attested on an image, in the gate and every rescan', async () => {
  const dir = testDataDir('dchain-vex-');
  const env = (workflowId: string) => new MockActivityEnvironment({ workflowExecution: { workflowId, runId: 'run-1' } });
  const logger = createLogger({ level: 'silent' });
  let redis: Redis;
  let host: string;
  let scans: ReturnType<typeof createScanActivities>;
  let gate: ReturnType<typeof createGateActivities>;
  let rescans: ReturnType<typeof createRescanActivities>;
  const trusted = await writeKeyPair(dir, 'release');
  const stranger = await writeKeyPair(dir, 'stranger');

  const push = async (variant: string) => {
    const digest = (await writeOciImage(join(dir, variant), appSpec(variant), variant)).digest;
    await pushImage(join(dir, variant), variant, `${host}/team/app:${variant}`);
    return digest;
  };
  const attest = async (digest: string, key: typeof trusted) => {
    const predicate = join(dir, `vex-${digest.slice(7, 19)}-${key.keyPath.length}.json`);
    writeFileSync(predicate, JSON.stringify(openVex(digest)));
    const result = await runTool(
      cosignPath(),
      [
        'attest',
        '--key',
        key.keyPath,
        ...COSIGN_KEY_SIGN_FLAGS,
        '-y',
        '--type',
        'openvex',
        '--predicate',
        predicate,
        ...COSIGN_REGISTRY_FLAGS,
        `${host}/team/app@${digest}`,
      ],
      { COSIGN_PASSWORD: key.password },
      120_000,
    );
    assert.equal(result.code, 0, result.stderr);
  };
  const scanAndGate = async (digest: string): Promise<{ scan: ScanSummary; decision?: Decision; violations?: Violation[] }> => {
    const scan = (await env(`chain:${digest}`).run(scans.scanImage, { registry: 'source', repository: 'team/app', digest })) as ScanSummary;
    try {
      const decision = (await env(`chain:${digest}`).run(gate.evaluateGate, { registry: 'source', repository: 'team/app', digest, scan })) as Decision;
      return { scan, decision };
    } catch (err) {
      assert.ok(err instanceof ApplicationFailure && err.type === 'PolicyDenied', String(err));
      return { scan, violations: err.details as Violation[] };
    }
  };
  const rescan = async (digest: string, workflowId: string): Promise<RegateResult> => {
    const rescanned = (await env(workflowId).run(rescans.rescanImage, { digest })) as RescannedImage;
    return (await env(workflowId).run(rescans.regateImage, { digest, osvVersion: rescanned.osv.version })) as RegateResult;
  };

  before(async () => {
    const registry = await useRegistry({ dataDir: join(dir, 'registry') });
    host = registry.host;
    redis = new Redis((await useRedis()).url);
    onCleanup(() => redis.disconnect());
    const osvDir = join(dir, 'osv');
    mkdirSync(osvDir);
    copyFileSync(LODASH_CRITICAL, join(osvDir, 'GHSA-jf85-cpcp-j695.json'));
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(
      policyFile,
      JSON.stringify({
        apiVersion: 'policy.delivery-chain.dev/v1',
        kind: 'ImagePolicy',
        metadata: { name: 'vex-test' },
        mode: 'enforce',
        rules: [{ name: 'baseline', vulnerabilities: { maxSeverity: { fixable: 'MEDIUM', unfixable: 'HIGH' } } }],
      }),
    );
    const config = parseConfig({
      dataDir: dir,
      registries: [{ name: 'source', url: registry.url }],
      sync: { targets: [] },
      scan: { osv: { directory: osvDir } },
      signing: { trustedKeys: [trusted.pubPath] },
      policy: { file: policyFile },
    });
    const deps = createActivityDeps(config, logger, { redis });
    scans = createScanActivities(deps);
    rescans = createRescanActivities(deps);
    gate = createGateActivities({ config, logger, redis });
  });

  void it('denies the image before any VEX, allows it once a signed OpenVEX attestation says not_affected, and every rescan keeps it so', async () => {
    const digest = await push('one');
    const first = await scanAndGate(digest);
    assert.deepEqual(
      first.violations?.map((v) => v.evidence.id),
      ['GHSA-jf85-cpcp-j695'],
      'CRITICAL lodash finding denies',
    );

    await attest(digest, trusted);
    // The nightly rescan reads the attestation: the verdict changes to allowed, the finding stays listed as suppressed.
    const r1 = await rescan(digest, 'rescan-1');
    assert.equal(r1.verdict, 'allowed');
    assert.equal(r1.allowed, true);
    const latest = await new DecisionStore(redis).latest(digest);
    assert.deepEqual(
      latest?.decision.suppressed?.map((s) => [s.id, s.package, s.statement.status, s.statement.justification, s.statement.source.format]),
      [['GHSA-jf85-cpcp-j695', 'lodash', 'not_affected', 'vulnerable_code_not_in_execute_path', 'openvex']],
    );
    assert.match(
      latest?.decision.suppressed?.[0]?.reason ?? '',
      /not_affected \(vulnerable_code_not_in_execute_path\) per OpenVEX https:\/\/example.com\/vex\/app-1 by App Team/,
    );

    // A new chain run of the same digest: the scan result shows the statement, the gate allows.
    const second = await scanAndGate(digest);
    assert.equal(second.decision?.allowed, true);
    const finding = second.scan.findings.find((f) => f.id === 'GHSA-jf85-cpcp-j695');
    assert.equal(finding?.suppressedBy?.status, 'not_affected', 'the scan result keeps the finding, with the statement');
    assert.equal(second.scan.vex?.statements.length, 1);
    assert.ok(second.scan.vex?.statements[0]?.source.keyId, 'the statement names the key that signed it');
    assert.equal(second.scan.counts.CRITICAL, 1, 'counts still list what the image contains');

    // And the next rescan applies it the same way: nothing changes.
    const r2 = await rescan(digest, 'rescan-2');
    assert.equal(r2.verdict, 'unchanged');
    assert.equal(r2.allowed, true);
  });

  void it('ignores the same statement signed by a key the chain does not trust, and says so', async () => {
    const digest = await push('two');
    await attest(digest, stranger);
    const result = await scanAndGate(digest);
    assert.equal(result.decision, undefined, 'still denied');
    assert.deepEqual(
      result.violations?.map((v) => v.evidence.id),
      ['GHSA-jf85-cpcp-j695'],
    );
    assert.equal(result.scan.vex?.statements.length, 0);
    assert.match(result.scan.vex?.problems.join('\n') ?? '', /not applied: envelope signature does not verify with any trusted key/);
    const r = await rescan(digest, 'rescan-3');
    assert.equal(r.allowed, false);
  });
});
