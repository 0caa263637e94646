import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createSignActivities, type SignOutput } from '../../../activities/sign';
import { parseConfig } from '../../../src/config/load';
import { PREDICATE_TYPES, verifyImage } from '../../../src/signing';
import { testDataDir } from '../../support/services';
import { cosignVerify, registryWithImage, writeKeyPair } from './support';
import { createActivityDeps } from '../../../activities/deps';

void describe('sign activity', async () => {
  const dir = testDataDir('dchain-sign-activity-');
  const image = await registryWithImage(dir);
  const key = await writeKeyPair(dir, 'stage');
  const logLines: string[] = [];
  const logger = pino({ level: 'trace' }, new Writable({ write: (chunk: Buffer, _enc, done) => (logLines.push(chunk.toString()), done()) }));
  const config = parseConfig({
    registries: [{ name: 'source', url: `http://${image.host}` }],
    sources: [],
    sync: { targets: [] },
    signing: { key: { kind: 'file', path: key.keyPath, passwordEnv: 'DCHAIN_TEST_SIGNING_PASSWORD' }, annotations: { pipeline: 'delivery-chain' } },
  });
  const deps = createActivityDeps(config, logger);
  const input = {
    registry: 'source',
    repository: image.repo,
    digest: image.digest,
    attestations: [
      { predicateType: PREDICATE_TYPES.cyclonedx, predicate: { bomFormat: 'CycloneDX', specVersion: '1.6', components: [] } },
      { predicateType: PREDICATE_TYPES.gateDecision, predicate: { decision: 'allow' } },
    ],
  };

  void it('fails for good, naming the variable, when the key password is not in the environment', async () => {
    delete process.env.DCHAIN_TEST_SIGNING_PASSWORD;
    const { signImage } = createSignActivities(deps);
    await assert.rejects(
      new MockActivityEnvironment().run(signImage, input),
      (err) =>
        err instanceof ApplicationFailure &&
        err.nonRetryable &&
        err.type === 'BAD_INPUT' &&
        /needs a password: set DCHAIN_TEST_SIGNING_PASSWORD/.test(err.message),
    );
  });

  void it('signs and attests; cosign verifies; a retry adds nothing', async () => {
    process.env.DCHAIN_TEST_SIGNING_PASSWORD = key.password;
    const { signImage } = createSignActivities(deps);
    const first = (await new MockActivityEnvironment().run(signImage, input)) as SignOutput;
    assert.equal(first.signatureAdded, true);
    assert.deepEqual(
      first.attestations.map((a) => [a.predicateType, a.added]),
      [
        [PREDICATE_TYPES.cyclonedx, true],
        [PREDICATE_TYPES.gateDecision, true],
      ],
    );
    const verified = await cosignVerify(key.pubPath, image.ref, ['-a', 'pipeline=delivery-chain']);
    assert.equal(verified.code, 0, verified.stderr);
    const retry = (await new MockActivityEnvironment().run(signImage, input)) as SignOutput;
    assert.equal(retry.signatureAdded, false);
    assert.ok(retry.attestations.every((a) => !a.added));
    const report = await verifyImage(image.client, image.repo, image.digest, [key.publicKeyPem]);
    assert.deepEqual(report.signedBy, [first.keyId]);
    assert.deepEqual(
      report.attestations.map((a) => a.valid),
      [true, true],
    );
  });

  void it('refuses bad input and unknown registries as non-retryable', async () => {
    const { signImage } = createSignActivities(deps);
    const env = new MockActivityEnvironment();
    await assert.rejects(
      env.run(signImage, { ...input, digest: 'latest' }),
      (err) => err instanceof ApplicationFailure && err.nonRetryable && err.type === 'BAD_INPUT' && /digest/.test(err.message),
    );
    await assert.rejects(
      env.run(signImage, { ...input, registry: 'nowhere' }),
      (err) => err instanceof ApplicationFailure && err.nonRetryable && /nowhere/.test(err.message),
    );
  });

  void it('never logs the key or its password', () => {
    const text = logLines.join('');
    assert.ok(text.includes('image signed'));
    assert.ok(!text.includes(key.password));
    assert.ok(!text.includes('-----BEGIN'));
    for (const line of key.privateKeyPem.split('\n').filter((l) => l.length === 64)) assert.ok(!text.includes(line), 'key material in the log');
  });
});
