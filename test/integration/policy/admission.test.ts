import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { parseConfig } from '../../../src/config/load';
import { createLogger } from '../../../src/log/logger';
import { DecisionStore, evaluatePolicy, type ImageFacts, type ImageFactsInput, imageFactsSchema, type LoadedPolicy, parsePolicy } from '../../../src/policy';
import { admissionDepsFromConfig, buildAdmissionServer } from '../../../src/policy/admission';
import { generateKeyPair } from '../../../src/signing';
import { useRedis, useRegistry, testDataDir } from '../../support/services';
import { cosignSign, cronJob, deployment, pod, postReview, pushSmallImage, review, selfSignedCert } from './admission-support';

void describe('admission webhook over HTTPS with a real registry, Redis and cosign signatures', async () => {
  const dir = testDataDir('dchain-admission-');
  let app: FastifyInstance;
  let url: string;
  let ca: string;
  let redis: Redis;
  let store: DecisionStore;
  let host: string;
  let policy: LoadedPolicy;
  let current: LoadedPolicy;
  const digests: Record<'good' | 'unsigned' | 'vulnerable' | 'ungated', string> = { good: '', unsigned: '', vulnerable: '', ungated: '' };
  const ref = (name: keyof typeof digests) => `${host}/team/${name}@${digests[name]}`;

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

  before(async () => {
    const [registry, redisServer, tls, keys] = await Promise.all([
      useRegistry({ dataDir: join(dir, 'registry') }),
      useRedis(join(dir, 'redis')),
      selfSignedCert(dir),
      generateKeyPair('release-password'),
    ]);
    host = registry.host;
    ca = tls.cert;
    redis = new Redis(redisServer.url);
    store = new DecisionStore(redis);
    const keyPath = join(dir, 'release.key');
    writeFileSync(keyPath, keys.privateKeyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'tls.crt'), tls.cert);
    writeFileSync(join(dir, 'tls.key'), tls.key);

    for (const name of Object.keys(digests) as Array<keyof typeof digests>) digests[name] = await pushSmallImage(dir, host, `team/${name}`, '1.0');
    await Promise.all((['good', 'vulnerable', 'ungated'] as const).map((name) => cosignSign(keyPath, 'release-password', ref(name))));

    policy = parsePolicy({
      apiVersion: 'policy.delivery-chain.dev/v1',
      kind: 'ImagePolicy',
      metadata: { name: 'admission-test' },
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
    for (const [name, found] of [
      ['good', []],
      ['unsigned', []],
      ['vulnerable', critical],
    ] as const) {
      const f = facts(`team/${name}`, digests[name], [...found]);
      // The gate saw no signature yet (signing follows it); admission checks them live.
      await store.record(f, evaluatePolicy(f, parsePolicy({ ...policy.policy, rules: [{ ...policy.policy.rules[0], provenance: undefined }] }), new Date()));
    }

    const config = parseConfig({
      registries: [{ name: 'source', url: registry.url }],
      sync: { targets: [] },
      policy: { admission: { tlsCertFile: join(dir, 'tls.crt'), tlsKeyFile: join(dir, 'tls.key') } },
    });
    const deps = admissionDepsFromConfig(config, redis, createLogger({ level: 'silent' }), policy);
    app = await buildAdmissionServer({ ...deps, policy: () => current });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    url = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  after(async () => {
    await app?.close();
    redis?.disconnect();
  });

  void it('admits a signed, allowed image referenced by digest', async () => {
    const { status, body } = await postReview(url, ca, review('uid-allowed', 'Pod', 'shop', pod([{ name: 'web', image: ref('good') }])));
    assert.equal(status, 200);
    assert.equal(body.apiVersion, 'admission.k8s.io/v1');
    assert.equal(body.kind, 'AdmissionReview');
    assert.equal(body.response?.uid, 'uid-allowed');
    assert.equal(body.response?.allowed, true, body.response?.status?.message);
  });

  void it('refuses an unsigned image and says why', async () => {
    const { body } = await postReview(
      url,
      ca,
      review(
        'uid-unsigned',
        'Pod',
        'shop',
        pod([
          { name: 'web', image: ref('good') },
          { name: 'helper', image: ref('unsigned') },
        ]),
      ),
    );
    assert.equal(body.response?.uid, 'uid-unsigned');
    assert.equal(body.response?.allowed, false);
    assert.equal(body.response?.status?.code, 403);
    const message = body.response?.status?.message ?? '';
    assert.match(message, /^containers\[helper\]: .*team\/unsigned@sha256:[0-9a-f]{64} is not signed by a trusted key \(NO_SIGNATURES/);
    assert.doesNotMatch(message, /containers\[web\]/);
  });

  void it('refuses a vulnerable image with the rule and the CVE', async () => {
    const { body } = await postReview(url, ca, review('uid-vulnerable', 'Deployment', 'shop', deployment([{ name: 'api', image: ref('vulnerable') }])));
    assert.equal(body.response?.uid, 'uid-vulnerable');
    assert.equal(body.response?.allowed, false);
    assert.match(
      body.response?.status?.message ?? '',
      /containers\[api\]: .* is denied by policy admission-test:unversioned:sha256-[0-9a-f]{12}: \[vulnerabilities\.fixable\] CRITICAL CVE-2026-4242 in openssl 3\.0\.1 \(fixed in 3\.0\.2\)/,
    );
  });

  void it('refuses a tag reference and gives the digest to use', async () => {
    const { body } = await postReview(url, ca, review('uid-tag', 'CronJob', 'shop', cronJob([{ name: 'report', image: `${host}/team/good:1.0` }])));
    assert.equal(body.response?.uid, 'uid-tag');
    assert.equal(body.response?.allowed, false);
    assert.match(
      body.response?.status?.message ?? '',
      new RegExp(`containers\\[report\\]: image "${host}/team/good:1.0" is referenced by tag; reference it by digest: ${host}/team/good@${digests.good}`),
    );
  });

  void it('refuses an image that never went through the gate', async () => {
    const { body } = await postReview(url, ca, review('uid-ungated', 'Pod', 'shop', pod([{ name: 'web', image: ref('ungated') }])));
    assert.equal(body.response?.allowed, false);
    assert.match(body.response?.status?.message ?? '', /has no gate decision/);
  });

  void it('lets an allowlisted sidecar through with a warning', async () => {
    const object = pod(
      [
        { name: 'web', image: ref('good') },
        { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.22.0' },
      ],
      [{ name: 'istio-init', image: 'istio/proxyv2:1.22.0' }],
    );
    const { body } = await postReview(url, ca, review('uid-sidecar', 'Pod', 'shop', object));
    assert.equal(body.response?.uid, 'uid-sidecar');
    assert.equal(body.response?.allowed, true, body.response?.status?.message);
    assert.ok(body.response?.warnings?.some((w) => /containers\[istio-proxy\]: .* allowlisted sidecar \(injected by istio\)/.test(w)));
    assert.ok(body.response?.warnings?.some((w) => /initContainers\[istio-init\]/.test(w)));
  });

  void it('answers a malformed review with its uid and a 400 status, and garbage with HTTP 400', async () => {
    const broken = review('uid-malformed', 'Pod', 'shop', { spec: { containers: [{ name: 'web' }] } });
    const { body } = await postReview(url, ca, broken);
    assert.equal(body.response?.uid, 'uid-malformed');
    assert.equal(body.response?.allowed, false);
    assert.equal(body.response?.status?.code, 400);
    assert.match(body.response?.status?.message ?? '', /spec\.containers\.0\.image/);

    const wrongVersion = { ...review('uid-v1beta1', 'Pod', 'shop', pod([])), apiVersion: 'admission.k8s.io/v1beta1' };
    const old = await postReview(url, ca, wrongVersion);
    assert.equal(old.body.response?.uid, 'uid-v1beta1');
    assert.equal(old.body.response?.status?.code, 400);
    assert.match(old.body.response?.status?.message ?? '', /malformed AdmissionReview: apiVersion/);

    assert.equal((await postReview(url, ca, undefined, '{"not": "a review"}')).status, 400);
    assert.equal((await postReview(url, ca, undefined, '{ truncated')).status, 400);
  });

  void it('drops its cached decision when a new one lands (break-glass) and admits', async () => {
    const denied = await postReview(url, ca, review('uid-before', 'Pod', 'shop', pod([{ name: 'api', image: ref('vulnerable') }])));
    assert.equal(denied.body.response?.allowed, false);
    await store.recordOverride(digests.vulnerable, { actor: 'alice', reason: 'incident 42 hotfix' });
    let answer = denied;
    for (let i = 0; i < 50 && answer.body.response?.allowed !== true; i++) {
      await new Promise((r) => setTimeout(r, 20));
      answer = await postReview(url, ca, review('uid-after', 'Pod', 'shop', pod([{ name: 'api', image: ref('vulnerable') }])));
    }
    assert.equal(answer.body.response?.allowed, true);
    assert.ok(answer.body.response?.warnings?.some((w) => /break-glass override of alice \(incident 42 hotfix\)/.test(w)));
  });

  void it('in dry-run mode answers allowed with the denials as warnings', async () => {
    current = parsePolicy({ ...policy.policy, mode: 'dry-run', trustedKeys: policy.policy.trustedKeys });
    try {
      const object = pod([
        { name: 'web', image: `${host}/team/good:1.0` },
        { name: 'helper', image: ref('unsigned') },
      ]);
      const { body } = await postReview(url, ca, review('uid-dry-run', 'Pod', 'shop', object));
      assert.equal(body.response?.uid, 'uid-dry-run');
      assert.equal(body.response?.allowed, true);
      assert.equal(body.response?.status, undefined);
      const warnings = body.response?.warnings ?? [];
      assert.ok(
        warnings.some((w) => /^dry-run, would deny: containers\[web\]: .*referenced by tag/.test(w)),
        JSON.stringify(warnings),
      );
      assert.ok(
        warnings.some((w) => /^dry-run, would deny: containers\[helper\]: .*not signed/.test(w)),
        JSON.stringify(warnings),
      );
    } finally {
      current = policy;
    }
  });
});
