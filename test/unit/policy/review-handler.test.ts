import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ImageAdmission } from '../../../src/policy/admission/image-admission';
import { answerReview } from '../../../src/policy/admission/review-handler';
import { type DecisionRecord, type DecisionStore } from '../../../src/policy/decision-store';
import { evaluatePolicy } from '../../../src/policy/evaluate';
import { DIGEST, facts, finding, NOW, policyWith } from './fixtures';

const policy = policyWith({ vulnerabilities: { maxSeverity: { fixable: 'MEDIUM' } }, provenance: { requireSignatures: { keys: ['release'] } } });
const image = `registry.example.com/team/app@${DIGEST}`;
const blocked: DecisionRecord = (() => {
  const f = facts({ findings: [finding('CVE-2026-0001', 'CRITICAL', true)] });
  return { decision: evaluatePolicy(f, policy, NOW), facts: f, recordedAt: NOW.toISOString() };
})();

const podReview = (operation: 'CREATE' | 'UPDATE', images: string[], oldImages?: string[]) => {
  const spec = (list: string[]) => ({
    spec: { containers: list.map((img, i) => ({ name: `c${i}`, image: img })) },
    metadata: { name: 'web', labels: { tier: 'gold' } },
  });
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'shop',
      operation,
      object: spec(images),
      ...(oldImages ? { oldObject: spec(oldImages) } : {}),
    },
  };
};

function admission(
  options: { record?: DecisionRecord; latest?: () => Promise<DecisionRecord | undefined>; signed?: boolean; serveCachedMs?: number; now?: () => Date } = {},
) {
  const calls = { latest: 0, signatures: 0 };
  const latest = options.latest ?? (async () => options.record);
  return {
    calls,
    admission: new ImageAdmission({
      policy: () => policy,
      decisions: { latest: async () => (calls.latest++, latest()) } as unknown as DecisionStore,
      checkSignatures: async () => (
        calls.signatures++,
        { signedBy: options.signed === false ? [] : ['release'], attestations: [], problems: options.signed === false ? ['NO_SIGNATURES: none'] : [] }
      ),
      resolveTag: async () => DIGEST,
      decisionStoreName: 'the decision store (Redis at redis://r:6379)',
      serveCachedDecisionsOnOutageMs: options.serveCachedMs ?? 0,
      now: options.now ?? (() => NOW),
    }),
  };
}

void describe('answerReview', () => {
  void it('on UPDATE checks only images that are new or changed against oldObject', async () => {
    const { admission: a, calls } = admission({ record: blocked, signed: false });
    const relabel = await answerReview(podReview('UPDATE', [image], [image]), a, 1_000);
    assert.equal(relabel?.allowed, true, 'a label change on a pod whose image is now denied must pass');
    assert.equal(calls.latest, 0);
    const swapped = await answerReview(podReview('UPDATE', [image, 'registry.example.com/team/app:2'], [image]), a, 1_000);
    assert.equal(swapped?.allowed, false);
    assert.match(swapped?.status?.message ?? '', /^containers\[c1\]: .*referenced by tag/);
    const create = await answerReview(podReview('CREATE', [image]), a, 1_000);
    assert.equal(create?.allowed, false);
  });

  void it('names the gate violations of a blocked digest before the missing signature', async () => {
    const { admission: a } = admission({ record: blocked, signed: false });
    const answer = await answerReview(podReview('CREATE', [image]), a, 1_000);
    assert.match(
      answer?.status?.message ?? '',
      /is denied by policy .*: \[vulnerabilities\.fixable\] CRITICAL CVE-2026-0001.*; and it is not signed by a trusted key$/,
    );
  });

  void it('fails closed naming the decision store when it is unreachable', async () => {
    const { admission: a } = admission({ latest: () => Promise.reject(new Error("Stream isn't writeable")) });
    const answer = await answerReview(podReview('CREATE', [image]), a, 1_000);
    assert.equal(answer?.allowed, false);
    assert.match(
      answer?.status?.message ?? '',
      /cannot be checked: the decision store \(Redis at redis:\/\/r:6379\) is unreachable \(Stream isn't writeable\)/,
    );
  });

  void it('with serveCachedDecisionsOnOutageMs answers from a decision read at most that long ago, with a warning', async () => {
    let down = false;
    let now = NOW.getTime();
    const allowed: DecisionRecord = { ...blocked, facts: facts(), decision: evaluatePolicy(facts(), policy, NOW) };
    const { admission: a } = admission({
      latest: async () => (down ? Promise.reject(new Error('connection refused')) : allowed),
      serveCachedMs: 30_000,
      now: () => new Date(now),
    });
    assert.equal((await answerReview(podReview('CREATE', [image]), a, 1_000))?.allowed, true);
    down = true;
    a.clear(); // what the server does when the subscription drops
    now += 10_000;
    const served = await answerReview(podReview('CREATE', [image]), a, 1_000);
    assert.equal(served?.allowed, true);
    assert.match(served?.warnings?.join('\n') ?? '', /decision store is unreachable; answered from the decision read 10 s ago/);
    now += 30_000;
    a.clear();
    const expired = await answerReview(podReview('CREATE', [`registry.example.com/team/other@${DIGEST}`]), a, 1_000);
    assert.equal(expired?.allowed, false, 'never older than the configured bound');
  });

  void it('answers with the webhook reason when a check outlives its deadline', async () => {
    const a = new ImageAdmission({
      policy: () => policy,
      decisions: { latest: () => new Promise(() => undefined) } as unknown as DecisionStore,
      checkSignatures: async () => ({ signedBy: [], attestations: [], problems: [] }),
      resolveTag: async () => undefined,
    });
    const answer = await answerReview(podReview('CREATE', [image]), a, 50);
    assert.match(answer?.status?.message ?? '', /^containers\[c0\]: could not be checked within 50 ms$/);
  });

  void it('keeps the deadline through a garbage collection while the server can still shut the check down', async () => {
    // The server passes its shutdown signal: the deadline is then combined with it. A deadline held only by
    // AbortSignal.any was collected by a GC before firing, and the check never ended (kubectl read the API
    // server's "context deadline exceeded" instead of the reason).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const a = new ImageAdmission({
      policy: () => policy,
      decisions: { latest: () => new Promise(() => undefined) } as unknown as DecisionStore,
      checkSignatures: async () => ({ signedBy: [], attestations: [], problems: [] }),
      resolveTag: async () => undefined,
    });
    const shutdown = new AbortController();
    const collect = setTimeout(gc, 50);
    let wait: NodeJS.Timeout | undefined;
    const giveUp = new Promise<'no answer'>((resolve) => (wait = setTimeout(() => resolve('no answer'), 3_000)));
    try {
      const answer = await Promise.race([answerReview(podReview('CREATE', [image]), a, 300, shutdown.signal), giveUp]);
      assert.notEqual(answer, 'no answer', 'the deadline never fired');
      assert.match(answer === 'no answer' ? '' : (answer?.status?.message ?? ''), /^containers\[c0\]: could not be checked within 300 ms$/);
    } finally {
      clearTimeout(collect);
      clearTimeout(wait);
    }
  });
});
