import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { checkDeadlineOf } from '../../../src/config';
import { parseConfig } from '../../../src/config/load';
import { createLogger } from '../../../src/log/logger';
import { DecisionStore, evaluatePolicy, type ImageFacts, type ImageFactsInput, imageFactsSchema, type LoadedPolicy, parsePolicy } from '../../../src/policy';
import { admissionDepsFromConfig, admissionRedis, buildAdmissionServer } from '../../../src/policy/admission';
import { generateKeyPair } from '../../../src/signing';
import { createNamespace, type ControlPlane, useControlPlane } from '../../support/kube';
import { onCleanup, testDataDir, useRedis, useRegistry } from '../../support/services';
import { cosignSign, pushSmallImage, selfSignedCert } from './admission-support';
import { apply, applyAdmissionManifests, eventually, useHungServer, waitForWebhook, WEBHOOK, workload, type WorkloadKind } from './kube-support';

const KINDS: WorkloadKind[] = ['Pod', 'Deployment', 'CronJob', 'Job'];
const NS = 'shop';
const DENIED = `admission webhook "${WEBHOOK}" denied the request`;

/**
 * Admission through a real API server: kube-apiserver on etcd, deploy/kubernetes/ applied, the webhook
 * running from the configuration as `dchain policy admission` does, and kubectl's own output asserted.
 */
void describe('admission through kube-apiserver with kubectl', { timeout: 900_000 }, async () => {
  const dir = testDataDir('dchain-kube-admission-');
  let cp: ControlPlane;
  let app: FastifyInstance;
  let store: DecisionStore;
  let host: string;
  let hungHost: string;
  let policy: LoadedPolicy;
  let current: LoadedPolicy;
  let redisServer: Awaited<ReturnType<typeof useRedis>>;
  const digests: Record<'good' | 'unsigned' | 'blocked' | 'ungated' | 'later', string> = { good: '', unsigned: '', blocked: '', ungated: '', later: '' };
  const ref = (name: keyof typeof digests) => `${host}/team/${name}@${digests[name]}`;
  const critical = [
    {
      id: 'CVE-2026-4242',
      aliases: [],
      package: 'openssl',
      version: '3.0.1',
      ecosystem: 'Debian',
      severity: 'CRITICAL' as const,
      fixable: true,
      fixedVersion: '3.0.2',
    },
  ];
  const facts = (repository: string, digest: string, findings: ImageFactsInput['findings'] = []): ImageFacts =>
    imageFactsSchema.parse({
      registry: host,
      repository,
      digest,
      scannedAt: new Date().toISOString(),
      findings,
      vulnerabilityData: { version: 'test', records: 1, ageSeconds: 0, problems: [] },
      hygiene: { user: '1000', sizeBytes: 100, layerCount: 1, efficiency: 1 },
    });
  const gate = (name: keyof typeof digests, findings: ImageFactsInput['findings'] = []) => {
    const f = facts(`team/${name}`, digests[name], findings);
    // The gate runs before signing: it decides without the signature rule.
    return store.record(f, evaluatePolicy(f, parsePolicy({ ...policy.policy, rules: [{ ...policy.policy.rules[0], provenance: undefined }] }), new Date()));
  };

  before(async () => {
    const [registry, redisStarted, tls, keys, hung] = await Promise.all([
      useRegistry({ dataDir: join(dir, 'registry') }),
      useRedis(join(dir, 'redis')),
      selfSignedCert(dir),
      generateKeyPair('release-password'),
      useHungServer(),
    ]);
    redisServer = redisStarted;
    host = registry.host;
    hungHost = hung.host;
    const keyPath = join(dir, 'release.key');
    writeFileSync(keyPath, keys.privateKeyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'tls.crt'), tls.cert);
    writeFileSync(join(dir, 'tls.key'), tls.key);
    // The control plane starts while the images are pushed and signed: it is the slow part.
    const controlPlane = useControlPlane(join(dir, 'kube'));
    for (const name of Object.keys(digests) as Array<keyof typeof digests>) digests[name] = await pushSmallImage(dir, host, `team/${name}`, '1.0');
    await Promise.all((['good', 'ungated', 'later'] as const).map((name) => cosignSign(keyPath, 'release-password', ref(name))));

    policy = parsePolicy({
      apiVersion: 'policy.delivery-chain.dev/v1',
      kind: 'ImagePolicy',
      metadata: { name: 'kube-test' },
      mode: 'enforce',
      trustedKeys: [{ id: 'release', publicKey: keys.publicKeyPem }],
      sidecars: [{ image: 'docker.io/istio/proxyv2', reason: 'injected by istio' }],
      rules: [
        {
          name: 'baseline',
          vulnerabilities: { maxSeverity: { fixable: 'MEDIUM' } },
          hygiene: { requireNonRootUser: true },
          provenance: { requireSignatures: { keys: ['release'] } },
        },
      ],
    });
    current = policy;
    // The chain's side of the store (the gate writes here); the webhook has its own fail-fast connection.
    const chainRedis = new Redis(redisServer.url);
    chainRedis.on('error', () => undefined); // the outage test stops Redis under it
    onCleanup(() => chainRedis.disconnect());
    store = new DecisionStore(chainRedis);
    await Promise.all([gate('good'), gate('unsigned'), gate('later'), gate('blocked', critical)]);

    const config = parseConfig({
      redis: { url: redisServer.url },
      registries: [
        { name: 'source', url: registry.url },
        { name: 'slow', url: `http://${hungHost}` },
      ],
      sources: [],
      sync: { targets: [] },
      policy: { admission: { tlsCertFile: join(dir, 'tls.crt'), tlsKeyFile: join(dir, 'tls.key') } },
    });
    const { redis, label } = admissionRedis(redisServer.url);
    const deps = admissionDepsFromConfig(config, redis, createLogger({ level: 'silent' }), policy, label);
    app = await buildAdmissionServer({ ...deps, policy: () => current });
    await app.listen({ host: '127.0.0.1', port: 0 });
    onCleanup(async () => {
      await app.close();
      redis.disconnect();
    });
    const address = app.server.address();
    const url = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

    cp = await controlPlane;
    await applyAdmissionManifests(cp, url, tls);
    await createNamespace(cp, NS);
    await waitForWebhook(cp, NS, `${host}/team/good:1.0`);
  });

  void it('(a) creates every kind whose image is signed, allowed and pinned by digest', async () => {
    for (const kind of KINDS) {
      const res = await apply(cp, workload(kind, `allowed-${kind.toLowerCase()}`, NS, [{ name: 'web', image: ref('good') }]));
      assert.equal(res.code, 0, res.stderr);
      assert.equal(
        res.stdout.trim(),
        `${kind.toLowerCase()}.${kind === 'Pod' ? '' : kind === 'Deployment' ? 'apps' : 'batch'}/allowed-${kind.toLowerCase()} created`.replace('./', '/'),
      );
    }
  });

  void it('(b) refuses a tag reference in every kind and names the digest to use', async () => {
    for (const kind of KINDS) {
      const res = await apply(cp, workload(kind, `tag-${kind.toLowerCase()}`, NS, [{ name: 'web', image: `${host}/team/good:1.0` }]));
      assert.notEqual(res.code, 0);
      assert.match(
        res.stderr,
        new RegExp(
          `Error from server \\(Forbidden\\): error when creating "STDIN": ${DENIED}: containers\\[web\\]: image "${host}/team/good:1.0" is referenced by tag; reference it by digest: ${host}/team/good@${digests.good}`,
        ),
      );
    }
  });

  void it('(c) refuses a gate-blocked digest with the gate violations first, not just the missing signature', async () => {
    for (const kind of KINDS) {
      const res = await apply(cp, workload(kind, `blocked-${kind.toLowerCase()}`, NS, [{ name: 'api', image: ref('blocked') }]));
      assert.notEqual(res.code, 0);
      assert.match(
        res.stderr,
        new RegExp(
          `${DENIED}: containers\\[api\\]: ${host}/team/blocked@sha256:[0-9a-f]{64} is denied by policy kube-test:unversioned:sha256-[0-9a-f]{12}: \\[vulnerabilities\\.fixable\\] CRITICAL CVE-2026-4242 in openssl 3\\.0\\.1 \\(fixed in 3\\.0\\.2\\) is above the fixable ceiling MEDIUM; and it is not signed by a trusted key`,
        ),
      );
    }
  });

  void it('(d) refuses an unsigned digest and a digest that never went through the chain', async () => {
    for (const kind of KINDS) {
      const res = await apply(
        cp,
        workload(kind, `unsigned-${kind.toLowerCase()}`, NS, [
          { name: 'web', image: ref('good') },
          { name: 'helper', image: ref('unsigned') },
        ]),
      );
      assert.notEqual(res.code, 0);
      assert.match(
        res.stderr,
        new RegExp(`${DENIED}: containers\\[helper\\]: ${host}/team/unsigned@sha256:[0-9a-f]{64} is not signed by a trusted key \\(NO_SIGNATURES`),
      );
      assert.doesNotMatch(res.stderr, /containers\[web\]/);
    }
    const ungated = await apply(cp, workload('Pod', 'ungated', NS, [{ name: 'web', image: ref('ungated') }]));
    assert.match(ungated.stderr, new RegExp(`${DENIED}: containers\\[web\\]: .*team/ungated@sha256:[0-9a-f]{64} has no gate decision`));
  });

  void it('(e) creates workloads with an allowlisted sidecar, and kubectl shows the sidecar warning', async () => {
    for (const kind of KINDS) {
      const name = `sidecar-${kind.toLowerCase()}`;
      const res = await apply(
        cp,
        workload(
          kind,
          name,
          NS,
          [
            { name: 'web', image: ref('good') },
            { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.22.0' },
          ],
          [{ name: 'istio-init', image: 'istio/proxyv2:1.22.0' }],
        ),
      );
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, new RegExp(`/${name} created`));
      assert.match(
        res.stderr,
        /Warning: containers\[istio-proxy\]: docker\.io\/istio\/proxyv2:1\.22\.0 admitted as an allowlisted sidecar \(injected by istio\)/,
      );
    }
  });

  void it('(f) under a dry-run policy creates the workloads and kubectl shows the would-be denials as warnings', async () => {
    current = parsePolicy({ ...policy.policy, mode: 'dry-run' });
    try {
      for (const kind of KINDS) {
        const name = `dry-run-${kind.toLowerCase()}`;
        const res = await apply(
          cp,
          workload(kind, name, NS, [
            { name: 'web', image: `${host}/team/good:1.0` },
            { name: 'helper', image: ref('unsigned') },
          ]),
        );
        assert.equal(res.code, 0, res.stderr);
        assert.match(res.stdout, new RegExp(`/${name} created`));
        assert.match(res.stderr, /Warning: dry-run, would deny: containers\[web\]: image ".*team\/good:1\.0" is referenced by tag; reference it by digest/);
        assert.match(res.stderr, /Warning: dry-run, would deny: containers\[helper\]: .*team\/unsigned@sha256:[0-9a-f]{64} is not signed by a trusted key/);
      }
    } finally {
      current = policy;
    }
  });

  void it('checks replicationcontrollers too (they were missing from the webhook rules)', async () => {
    const res = await apply(cp, workload('ReplicationController', 'legacy', NS, [{ name: 'web', image: ref('unsigned') }]));
    assert.notEqual(res.code, 0, 'a ReplicationController with an unsigned image was created');
    assert.match(res.stderr, new RegExp(`${DENIED}: containers\\[web\\]: .* is not signed by a trusted key`));
    const ok = await apply(cp, workload('ReplicationController', 'legacy-ok', NS, [{ name: 'web', image: ref('good') }]));
    assert.equal(ok.code, 0, ok.stderr);
  });

  void it('on UPDATE checks only new or changed images: labels and finalizer removal pass after the image was denied', async () => {
    const pod = workload('Pod', 'keep', NS, [{ name: 'web', image: ref('later') }]);
    (pod.metadata as Record<string, unknown>).finalizers = ['example.com/hold'];
    const created = await apply(cp, pod);
    assert.equal(created.code, 0, created.stderr);
    const deployment = await apply(cp, workload('Deployment', 'keep', NS, [{ name: 'web', image: ref('later') }]));
    assert.equal(deployment.code, 0, deployment.stderr);

    // A rescan turns the running image's verdict to denied (the store tells the webhook at once).
    await gate('later', critical);
    const refusedNew = await eventually(
      () =>
        cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: JSON.stringify(workload('Pod', 'keep-2', NS, [{ name: 'web', image: ref('later') }])) }),
      (r) => r.code !== 0,
    );
    assert.match(refusedNew.stderr, /is denied by policy/);

    const labelled = await cp.kubectl(['-n', NS, 'label', 'pod', 'keep', 'tier=gold']);
    assert.equal(labelled.code, 0, labelled.stderr);
    assert.equal(labelled.stdout.trim(), 'pod/keep labeled');
    const scaled = await cp.kubectl(['-n', NS, 'scale', 'deployment', 'keep', '--replicas=3']);
    assert.equal(scaled.code, 0, scaled.stderr);
    const annotated = await cp.kubectl(['-n', NS, 'annotate', 'deployment', 'keep', 'owner=team-a']);
    assert.equal(annotated.code, 0, annotated.stderr);

    const deleted = await cp.kubectl(['-n', NS, 'delete', 'pod', 'keep', '--wait=false']);
    assert.equal(deleted.code, 0, deleted.stderr);
    const released = await cp.kubectl(['-n', NS, 'patch', 'pod', 'keep', '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']);
    assert.equal(released.code, 0, released.stderr);
    const gone = await eventually(
      () => cp.kubectl(['-n', NS, 'get', 'pod', 'keep']),
      (r) => r.code !== 0,
      30,
    );
    assert.match(gone.stderr, /NotFound|not found/);

    // A changed image is still checked.
    const swapped = await cp.kubectl(['-n', NS, 'set', 'image', 'deployment/keep', `web=${ref('unsigned')}`]);
    assert.notEqual(swapped.code, 0);
    assert.match(swapped.stderr, new RegExp(`${DENIED}: containers\\[web\\]: .*team/unsigned@.* is not signed by a trusted key`));
  });

  void it('does not let a namespace owner exempt their own namespace', async () => {
    const labelled = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'dchain.dev/admission': 'skip' } } });
    // The policy reaches the admission chain asynchronously after it is applied: wait for it with server-side dry runs.
    const probe = await eventually(
      () => cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: JSON.stringify(labelled('probe-exempt')), as: 'alice' }),
      (r) => r.code !== 0,
      60,
      500,
    );
    assert.notEqual(probe.code, 0, 'a tenant created a namespace exempt from image admission');

    const created = await apply(cp, labelled('alice-playground'), 'alice');
    assert.notEqual(created.code, 0);
    assert.match(
      created.stderr,
      /ValidatingAdmissionPolicy 'dchain-admission-exemptions' with binding 'dchain-admission-exemptions' denied request: the label dchain\.dev\/admission exempts a namespace from image admission/,
    );
    const plain = await apply(cp, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'alice-team' } }, 'alice');
    assert.equal(plain.code, 0, plain.stderr);
    const relabel = await cp.kubectl(['label', 'namespace', 'alice-team', 'dchain.dev/admission=skip'], { as: 'alice' });
    assert.notEqual(relabel.code, 0);
    assert.match(relabel.stderr, /denied request: the label dchain\.dev\/admission/);
    // A cluster admin still can.
    const admin = await cp.kubectl(['label', 'namespace', 'alice-team', 'dchain.dev/admission=skip']);
    assert.equal(admin.code, 0, admin.stderr);
  });

  void it('answers within the API server timeout when a registry hangs: the user reads the webhook reason', async () => {
    const res = await apply(cp, workload('Pod', 'slow', NS, [{ name: 'web', image: `${hungHost}/team/good@${digests.good}` }]));
    assert.notEqual(res.code, 0);
    assert.doesNotMatch(res.stderr, /context deadline exceeded|timeout/i);
    assert.match(res.stderr, new RegExp(`${DENIED}: containers\\[web\\]: could not be checked within ${checkDeadlineOf(parseConfig({}).policy.admission)} ms`));
  });

  void it('names a Redis outage and fails closed, then admits again once Redis is back', async () => {
    const warm = await apply(cp, workload('Pod', 'before-outage', NS, [{ name: 'web', image: ref('good') }]));
    assert.equal(warm.code, 0, warm.stderr);
    await redisServer.process.stop();
    try {
      const res = await eventually(
        () =>
          cp.kubectl(['apply', '--dry-run=server', '-f', '-'], {
            input: JSON.stringify(workload('Pod', 'during-outage', NS, [{ name: 'web', image: ref('good') }])),
          }),
        (r) => r.code !== 0,
        20,
      );
      assert.notEqual(res.code, 0, 'an image was admitted while the decision store was down');
      assert.match(
        res.stderr,
        new RegExp(
          `${DENIED}: containers\\[web\\]: cannot be checked: the decision store \\(Redis at redis://127\\.0\\.0\\.1:${redisServer.port}\\) is unreachable`,
        ),
      );
    } finally {
      await redisServer.process.start();
    }
    const back = await eventually(
      () => apply(cp, workload('Pod', 'after-outage', NS, [{ name: 'web', image: ref('good') }])),
      (r) => r.code === 0,
      60,
      500,
    );
    assert.equal(back.code, 0, back.stderr);
  });

  void it('(g) with the webhook down refuses everything, as failurePolicy Fail promises', async () => {
    await app.close();
    for (const kind of KINDS) {
      const res = await apply(cp, workload(kind, `down-${kind.toLowerCase()}`, NS, [{ name: 'web', image: ref('good') }]));
      assert.notEqual(res.code, 0, `${kind} was created while the webhook was down`);
      assert.match(
        res.stderr,
        new RegExp(
          `Internal error occurred: failed calling webhook "${WEBHOOK}": failed to call webhook: Post "https://127\\.0\\.0\\.1:\\d+/validate\\?timeout=5s": dial tcp 127\\.0\\.0\\.1:\\d+: connect: connection refused`,
        ),
      );
    }
    // The exempt namespace still works: the webhook can always be redeployed.
    const system = await apply(cp, {
      ...workload('Deployment', 'dchain-admission-probe', 'dchain-system', [{ name: 'web', image: 'ghcr.io/delivery-chain/delivery-chain:0.1.0' }]),
    });
    assert.equal(system.code, 0, system.stderr);
  });
});
