import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cappedBackoff, durationMs } from '../../../src/ingest';
import { chainWorkflowId, imagePushedSchema } from '../../../src/chain';

void describe('chain identity and retry policy', () => {
  void it('derives one workflow id per registry, repository and digest, whatever the tags', () => {
    const digest = `sha256:${'e'.repeat(64)}`;
    assert.equal(chainWorkflowId({ registry: 'source', repository: 'team/app', digest }), `chain:source/team/app@${digest}`);
    assert.notEqual(
      chainWorkflowId({ registry: 'mirror', repository: 'team/app', digest }),
      chainWorkflowId({ registry: 'source', repository: 'team/app', digest }),
    );
  });

  void it('refuses events whose digest is not sha256 with 64 lowercase hex digits', () => {
    const base = { registry: 'r', repository: 'a/b', tags: [], pushedAt: '2026-01-01T00:00:00.000Z', source: 's' };
    assert.ok(imagePushedSchema.safeParse({ ...base, digest: `sha256:${'a'.repeat(64)}` }).success);
    for (const digest of [`sha256:${'A'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, `sha512:${'a'.repeat(128)}`, 'latest']) {
      assert.equal(imagePushedSchema.safeParse({ ...base, digest }).success, false, digest);
    }
  });

  void it('backs off from 0.5 s, doubling, capped', () => {
    const backoff = cappedBackoff(durationMs('15s'));
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 20].map(backoff), [500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
  });

  void it('reads configuration durations', () => {
    assert.equal(durationMs('250ms'), 250);
    assert.equal(durationMs('10m'), 600_000);
    assert.equal(durationMs('30d'), 2_592_000_000);
    assert.throws(() => durationMs('10 minutes'), RangeError);
  });
});
