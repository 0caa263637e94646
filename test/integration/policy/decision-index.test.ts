import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ChainError } from '../../../src/errors/chain-error';
import { createHash } from 'node:crypto';
import { type DecisionRecord, DecisionStore, evaluatePolicy, imageFactsSchema, parsePolicy } from '../../../src/policy';
import { factsWithout, withFindingsOf } from '../../../src/policy/decision-store';
import { findingFactsDigest, findingsCompareDigest } from '../../../src/policy/findings-digest';
import { useRedis } from '../../support/services';

const policy = parsePolicy({ apiVersion: 'policy.delivery-chain.dev/v1', kind: 'ImagePolicy', metadata: { name: 'index' }, rules: [{ name: 'r' }] });
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
/** Denies any finding above LOW: every test finding is a violation. */
const strict = parsePolicy({
  apiVersion: 'policy.delivery-chain.dev/v1',
  kind: 'ImagePolicy',
  metadata: { name: 'strict' },
  rules: [{ name: 'r', vulnerabilities: { maxSeverity: { fixable: 'LOW', unfixable: 'LOW' } } }],
});
const facts = (n: number) =>
  imageFactsSchema.parse({
    registry: 'registry.example.com',
    repository: 'team/app',
    digest: digest(n),
    scannedAt: new Date().toISOString(),
    findings: [],
    hygiene: { sizeBytes: 1, layerCount: 1, efficiency: 1 },
  });

/** What a change that reads a part of the record on demand saw, run by run: it stops at its first read, and runs again once the part is fetched. */
async function seenOnDemand(store: DecisionStore, d: string, read: (record: DecisionRecord) => number): Promise<number[]> {
  const seen: number[] = [];
  await store.update(
    d,
    (latest) => {
      seen.push(read(latest!));
      return undefined;
    },
    { findingsOnDemand: true },
  );
  return seen;
}

/** The items a part of a record lists by id (its findings' or violations' key), read from the store's table of items under `prefix`. */
async function listed(redis: Redis, prefix: string, key: string): Promise<unknown[]> {
  const ids = JSON.parse((await redis.get(key))!) as string[];
  assert.ok(
    ids.every((id) => typeof id === 'string'),
    `${key} holds ids`,
  );
  if (!ids.length) return [];
  const jsons = await redis.hmget(`${prefix}items`, ...ids);
  return jsons.map((json, i) => {
    assert.equal(createHash('sha256').update(json!).digest('base64url'), ids[i], 'each item named by the SHA-256 of its text');
    return JSON.parse(json!) as unknown;
  });
}

/** A break-glass override over the latest record read on demand, as recordOverride makes one. */
const overrideOnDemand = (store: DecisionStore, d: string) =>
  store.update(
    d,
    (latest) =>
      latest ? { kind: 'decision', reason: 'override', record: { ...latest, override: { actor: 'a', reason: 'r', at: new Date().toISOString() } } } : undefined,
    { findingsOnDemand: true },
  );

describe('decision store: the digest index the rescan pages through, and compare-and-set updates (real Redis)', () => {
  let redis: Redis;
  before(async () => {
    redis = new Redis((await useRedis()).url);
  });
  after(() => redis.disconnect());

  it('lists every gated digest once, in pages, including decisions recorded before the index existed once backfilled', async () => {
    const store = new DecisionStore(redis, 'idx:');
    for (let n = 1; n <= 7; n++) await store.record(facts(n), evaluatePolicy(facts(n), policy, new Date()));
    // Decisions from before the index: as an older version of the store left them.
    await redis.del('idx:digests');
    assert.deepEqual(await store.listDigests({ limit: 3 }), { digests: [] }, 'listing does not wait for the backfill');
    assert.deepEqual(await store.backfillIndex(), { ran: true, digests: 7 });
    assert.deepEqual(await store.backfillIndex(), { ran: false, digests: 0 }, 'once: its marker says it ran');
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await store.listDigests({ ...(after === undefined ? {} : { after }), limit: 3 });
      seen.push(...page.digests);
      after = page.next;
      pages++;
      // Recorded while the listing runs: lands after the cursor, so it is listed too.
      if (pages === 1) await store.record(facts(9), evaluatePolicy(facts(9), policy, new Date()));
    } while (after !== undefined);
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 9].map(digest));
    assert.equal(pages, 3);
  });

  it('writes an update only over the record it was computed from', async () => {
    const store = new DecisionStore(redis, 'cas:');
    const d = digest(42);
    await store.record(facts(42), evaluatePolicy(facts(42), policy, new Date()));
    let calls = 0;
    const { previous, written } = await store.update(d, (latest) => {
      calls++;
      if (calls === 1 && latest) {
        // Another writer (a break-glass override) lands between this read and the write.
        const overridden = JSON.stringify({ ...latest, override: { actor: 'alice', reason: 'INC-7', at: new Date().toISOString() } });
        void redis.multi().set(`cas:decision:${d}`, overridden).lpush(`cas:history:${d}`, overridden).exec();
      }
      return latest ? { kind: 'decision', reason: 'rescan', record: { ...latest, recordedAt: new Date().toISOString() } } : undefined;
    });
    assert.equal(calls, 2, 'the first write found a newer record and the change ran again');
    assert.equal(previous?.override?.actor, 'alice');
    assert.equal(written?.record.override?.actor, 'alice', 'the override is not lost');
    assert.equal((await store.latest(d))?.override?.actor, 'alice');
    assert.equal((await store.history(d)).length, 3, 'decision, override, rescan');

    const refreshed = await store.update(d, (latest) =>
      latest ? { kind: 'refresh', record: { ...latest, facts: { ...latest.facts, scannedAt: '2030-01-01T00:00:00.000Z' } } } : undefined,
    );
    assert.equal(refreshed.written?.kind, 'refresh');
    assert.equal((await store.latest(d))?.facts.scannedAt, '2030-01-01T00:00:00.000Z');
    assert.equal((await store.history(d)).length, 3, 'a refresh adds nothing to the history');
    assert.deepEqual((await store.update(digest(43), () => undefined)).previous, undefined);
    // The write compares a digest of the record read: the bytes Redis holds, multi-byte characters too.
    await store.recordOverride(d, { actor: 'zoë', reason: 'Zürich ✓ 事故' });
    let tries = 0;
    const unicode = await store.update(d, (latest) => {
      tries++;
      return latest ? { kind: 'refresh', record: { ...latest, recordedAt: '2030-01-02T00:00:00.000Z' } } : undefined;
    });
    assert.equal(tries, 1, 'written on the first attempt');
    assert.equal(unicode.written?.record.override?.reason, 'Zürich ✓ 事故');
    assert.equal((await store.latest(d))?.recordedAt, '2030-01-02T00:00:00.000Z');
    // An unreadable record fails for good: a retry would read the same bytes.
    await redis.set(`cas:decision:${digest(44)}`, '{"decision": {}');
    await assert.rejects(store.latest(digest(44)), (err: unknown) => ChainError.is(err, 'BAD_INPUT') && !err.retryable && /unreadable/.test(err.message));
    await assert.rejects(store.recordOverride(digest(43), { actor: 'bob', reason: 'x' }), /nothing to override/);
  });

  it("marks a rescan's change as told only while the rescan's record is the latest", async () => {
    const store = new DecisionStore(redis, 'told:');
    const d = digest(50);
    const recorded = await store.record(facts(50), evaluatePolicy(facts(50), policy, new Date()));
    const mark = {
      workflowId: 'rescan-1',
      osvVersion: 'osv-1',
      at: new Date().toISOString(),
      previousAllowed: false,
      findingsChanged: true,
      recorded: true,
      notified: false,
    };
    await store.update(d, (latest) => (latest ? { kind: 'decision', reason: 'rescan', record: { ...latest, lastRescan: mark } } : undefined));
    assert.equal(await store.markRescanNotified(d, 'rescan-2'), false, "another rescan's change is not this one's to mark");
    assert.equal(await store.markRescanNotified(d, 'rescan-1'), true);
    assert.equal((await store.latest(d))?.lastRescan?.notified, true);
    assert.equal((await store.history(d)).length, 2, 'a mark adds nothing to the history');
    assert.equal(await store.markRescanNotified(d, 'rescan-1'), false, 'already marked');
    // A new gate decision replaced the rescan's record: nothing left to mark.
    await store.update(d, (latest) =>
      latest ? { kind: 'decision', reason: 'rescan', record: { ...latest, lastRescan: { ...mark, workflowId: 'rescan-3' } } } : undefined,
    );
    await store.record(recorded.facts, recorded.decision);
    assert.equal(await store.markRescanNotified(d, 'rescan-3'), false);
    assert.equal(await store.markRescanNotified(digest(51), 'rescan-1'), false, 'no decision at all');
  });

  it('records a new decision over any current one with the same script, also after Redis forgot it', async () => {
    const store = new DecisionStore(redis, 'rec:');
    const d = digest(60);
    const heard: string[] = [];
    const unsubscribe = await store.subscribe({ onInvalidate: (dg, reason) => heard.push(`${dg} ${reason}`) });
    try {
      await redis.script('FLUSH'); // as after a Redis restart: EVALSHA answers NOSCRIPT
      await store.record(facts(60), evaluatePolicy(facts(60), policy, new Date()));
      const overridden = await store.recordOverride(d, { actor: 'alice', reason: 'INC-9' });
      // A new gate decision replaces whatever is there (the override included), unconditionally.
      await store.record(overridden.facts, overridden.decision);
      assert.equal((await store.latest(d))?.override, undefined);
      assert.equal((await store.history(d)).length, 3);
      assert.deepEqual((await store.listDigests({ limit: 10 })).digests, [d]);
      for (let i = 0; i < 50 && heard.length < 3; i++) await delay(10);
      assert.deepEqual(heard, [`${d} decision`, `${d} override`, `${d} decision`]);
    } finally {
      await unsubscribe();
    }
  });

  it('keeps the findings under a key of their own: a refresh that keeps them unread writes the head alone', async () => {
    const store = new DecisionStore(redis, 'split:');
    const d = digest(70);
    const found = (ids: string[]) =>
      imageFactsSchema.parse({
        ...facts(70),
        findings: ids.map((id) => ({ id, package: 'openssl', version: '3.0.1', ecosystem: 'Debian', severity: 'LOW', fixable: false })),
      });
    const first = found(['CVE-2026-1', 'CVE-2026-2']);
    const recorded = await store.record(first, evaluatePolicy(first, policy, new Date()));
    assert.deepEqual(await store.latest(d), recorded, 'read back whole');
    const head = JSON.parse((await redis.get(`split:decision:${d}`))!) as { facts: object; findingsDigest: string; findingsCompareDigest: string };
    assert.equal('findings' in head.facts, false, 'the head holds no findings');
    assert.equal(head.findingsDigest, findingFactsDigest(first.findings));
    assert.equal(head.findingsCompareDigest, findingsCompareDigest(first.findings));
    assert.deepEqual(await listed(redis, 'split:', `split:findings:${d}`), first.findings);
    assert.deepEqual((await store.history(d))[0], recorded, 'the history keeps whole records');

    // Findings the store cannot read are never parsed by a refresh that keeps them: only its head is written.
    await redis.set(`split:findings:${d}`, '[not json');
    let seen: string | undefined;
    let seenCompare: string | undefined;
    const refreshed = await store.update(d, (latest, stored) => {
      seen = stored?.digest;
      seenCompare = stored?.compareDigest;
      return latest
        ? {
            kind: 'refresh',
            record: { ...latest, facts: withFindingsOf(latest.facts, { ...factsWithout(latest.facts), scannedAt: '2030-01-01T00:00:00.000Z' }) },
          }
        : undefined;
    });
    assert.equal(seen, findingFactsDigest(first.findings), 'the change is told the stored findings by their digest');
    assert.equal(seenCompare, findingsCompareDigest(first.findings), 'and by their compare digest');
    assert.equal(refreshed.written?.kind, 'refresh');
    assert.equal(await redis.get(`split:findings:${d}`), '[not json', 'the findings were not written');
    assert.equal(
      (JSON.parse((await redis.get(`split:decision:${d}`))!) as { findingsCompareDigest: string }).findingsCompareDigest,
      findingsCompareDigest(first.findings),
      'a refresh that keeps the findings keeps their compare digest',
    );
    assert.equal((JSON.parse((await redis.get(`split:decision:${d}`))!) as { facts: { scannedAt: string } }).facts.scannedAt, '2030-01-01T00:00:00.000Z');
    // Read, they fail closed: the record is unreadable, never a record without findings.
    await assert.rejects(store.latest(d), (err: unknown) => ChainError.is(err, 'BAD_INPUT') && !err.retryable && /unreadable/.test(err.message));
    await assert.rejects(
      store.update(d, (latest) => (latest && latest.facts.findings.length > 0 ? undefined : undefined)),
      (err: unknown) => ChainError.is(err, 'BAD_INPUT') && /unreadable/.test(err.message),
    );
    await redis.del(`split:findings:${d}`);
    await assert.rejects(store.latest(d), /findings .* are missing/);

    // A change of findings writes both, under one compare-and-set; a refresh that brings findings of its own writes them too.
    await store.record(first, evaluatePolicy(first, policy, new Date()));
    const second = found(['CVE-2026-3']);
    await store.update(d, (latest) => (latest ? { kind: 'refresh', record: { ...latest, facts: second } } : undefined));
    assert.deepEqual((await store.latest(d))?.facts.findings, second.findings);
    assert.equal((JSON.parse((await redis.get(`split:decision:${d}`))!) as { findingsDigest: string }).findingsDigest, findingFactsDigest(second.findings));

    // Findings are kept unread only by the update that read them: a record read earlier brings its findings along.
    let earlier: DecisionRecord | undefined;
    await store.update(d, (latest) => {
      earlier = latest;
      return undefined;
    });
    await store.record(first, evaluatePolicy(first, policy, new Date()));
    await store.update(d, () => ({ kind: 'refresh', record: { ...earlier!, facts: withFindingsOf(earlier!.facts, factsWithout(earlier!.facts)) } }));
    assert.deepEqual((await store.latest(d))?.facts.findings, second.findings, "the earlier record's findings, written with it");

    // A head written before the compare digest existed: the change is told the facts digest alone (regate then compares the findings).
    const current = JSON.parse((await redis.get(`split:decision:${d}`))!) as Record<string, unknown>;
    delete current.findingsCompareDigest;
    await redis.set(`split:decision:${d}`, JSON.stringify(current));
    let toldOlder: unknown;
    await store.update(d, (_latest, stored) => {
      toldOlder = stored;
      return undefined;
    });
    assert.deepEqual(toldOlder, { digest: current.findingsDigest }, 'no compare digest where none was stored');

    // A record stored whole (before findings had a key of their own) is read as it is and stored split by its next write.
    const legacy = { ...recorded, recordedAt: '2029-01-01T00:00:00.000Z' };
    await redis.set(`split:decision:${d}`, JSON.stringify(legacy));
    assert.deepEqual(await store.latest(d), legacy);
    let told: unknown = 'unset';
    await store.update(d, (latest, stored) => {
      told = stored;
      return latest
        ? { kind: 'refresh', record: { ...latest, facts: withFindingsOf(latest.facts, factsWithout(latest.facts)), recordedAt: '2029-01-02T00:00:00.000Z' } }
        : undefined;
    });
    assert.equal(told, undefined, 'no digest of findings stored whole');
    assert.deepEqual(await listed(redis, 'split:', `split:findings:${d}`), first.findings);
    assert.deepEqual(await store.latest(d), { ...legacy, recordedAt: '2029-01-02T00:00:00.000Z' });
  });
  it('reads the head alone with findingsOnDemand: findings fetched only when the change or a write needs them', async () => {
    const store = new DecisionStore(redis, 'demand:');
    const d = digest(80);
    const first = imageFactsSchema.parse({
      ...facts(80),
      findings: ['CVE-2026-1', 'CVE-2026-2'].map((id) => ({ id, package: 'openssl', version: '3.0.1', ecosystem: 'Debian', severity: 'LOW', fixable: false })),
    });
    await store.record(first, evaluatePolicy(first, policy, new Date()));
    const findingsKey = `demand:findings:${d}`;
    const stored = (await redis.get(findingsKey))!;

    // A refresh that keeps the findings never fetches them: with their key gone it still writes the head
    // (the lazy mode fails on the missing key at once), and a read of the record then fails closed.
    await redis.del(findingsKey);
    const refresh = (latest: DecisionRecord | undefined) =>
      latest ? ({ kind: 'refresh', record: { ...latest, facts: withFindingsOf(latest.facts, factsWithout(latest.facts)) } } as const) : undefined;
    await assert.rejects(store.update(d, refresh), /findings .* are missing/);
    const kept = await store.update(d, refresh, { findingsOnDemand: true });
    assert.equal(kept.written?.kind, 'refresh');
    assert.equal(kept.previous?.facts.registry, 'registry.example.com', 'the head is read');
    await assert.rejects(store.latest(d), /findings .* are missing/);
    await redis.set(findingsKey, stored);

    // A change that reads the findings gets them: it runs again once they are fetched.
    assert.deepEqual(await seenOnDemand(store, d, (r) => r.facts.findings.length), [2], 'the second run saw both findings; the first stopped at the read');

    // A new decision on the record's own findings (as an override makes) fetches and writes them.
    const overridden = await overrideOnDemand(store, d);
    assert.equal(overridden.written?.kind, 'decision');
    assert.deepEqual((await store.latest(d))?.facts.findings, first.findings);
    assert.deepEqual((await store.history(d))[0]?.facts.findings, first.findings, 'the history record holds them');
    assert.equal((await store.latest(d))?.override?.actor, 'a');

    // Unreadable findings fail closed when read on demand, as when read with the head.
    await redis.set(findingsKey, '[not json');
    await assert.rejects(
      store.update(d, (latest) => (latest!.facts.findings.length ? undefined : undefined), { findingsOnDemand: true }),
      (err: unknown) => ChainError.is(err, 'BAD_INPUT') && /unreadable/.test(err.message),
    );
  });

  it('writes and reads back records whose text is not ASCII byte for byte, their violations named by the digest of those bytes', async () => {
    const store = new DecisionStore(redis, 'utf8:');
    const d = digest(91);
    // Latin-1 (two UTF-8 bytes), other BMP (three) and astral (four, a surrogate pair in JS) characters.
    const found = imageFactsSchema.parse({
      ...facts(91),
      repository: 'équipe/café',
      findings: [{ id: 'CVE-2026-9', package: 'lib—ünï', version: '1.0', ecosystem: 'npm', severity: 'HIGH', fixable: true, summary: 'überlauf — 溢出 😀' }],
    });
    const recorded = await store.record(found, evaluatePolicy(found, strict, new Date()));
    assert.ok(
      recorded.decision.violations.some((v) => v.message.includes('lib—ünï')),
      'the violation names the package',
    );
    assert.deepEqual(await store.latest(d), recorded, 'read back whole, with the violations whose digest the head names');
    assert.deepEqual((await store.history(d))[0], recorded, 'the history spliced from the same bytes');
    // Each item's bytes are the UTF-8 of its JSON, and its id the SHA-256 of those bytes.
    const ids = JSON.parse((await redis.get(`utf8:violations:${d}`))!) as string[];
    const items = await redis.hmgetBuffer('utf8:items', ...ids);
    assert.deepEqual(
      items,
      recorded.decision.violations.map((v) => Buffer.from(JSON.stringify(v), 'utf8')),
    );
    assert.deepEqual(
      items.map((item) => createHash('sha256').update(item!).digest('base64url')),
      ids,
    );
    assert.deepEqual(await listed(redis, 'utf8:', `utf8:findings:${d}`), found.findings);
  });

  it('keeps the violations under a key of their own, named by their digest: a refresh that keeps the decision writes the head alone', async () => {
    const store = new DecisionStore(redis, 'viol:');
    const d = digest(90);
    const found = imageFactsSchema.parse({
      ...facts(90),
      findings: ['CVE-2026-1', 'CVE-2026-2'].map((id) => ({ id, package: 'openssl', version: '3.0.1', ecosystem: 'Debian', severity: 'HIGH', fixable: true })),
    });
    const recorded = await store.record(found, evaluatePolicy(found, strict, new Date()));
    const count = recorded.decision.violations.length;
    assert.ok(recorded.decision.violations.filter((v) => v.rule.startsWith('vulnerabilities.fix')).length === 2, 'both findings above the ceiling');
    const headKey = `viol:decision:${d}`;
    const violationsKey = `viol:violations:${d}`;
    const head = JSON.parse((await redis.get(headKey))!) as { decision: object; violationsDigest: string };
    assert.equal('violations' in head.decision, false, 'the head holds no violations');
    const stored = (await redis.get(violationsKey))!;
    assert.deepEqual(await listed(redis, 'viol:', violationsKey), recorded.decision.violations);
    assert.equal(head.violationsDigest, `sha256:${createHash('sha256').update(stored).digest('hex')}`, 'named by the SHA-256 of what is stored');
    assert.deepEqual(await store.latest(d), recorded, 'read back whole');
    assert.deepEqual((await store.history(d))[0], recorded, 'the history keeps whole records');

    const refresh = (latest: DecisionRecord | undefined) =>
      latest
        ? ({
            kind: 'refresh',
            record: { ...latest, facts: withFindingsOf(latest.facts, factsWithout(latest.facts)), recordedAt: '2030-01-01T00:00:00.000Z' },
          } as const)
        : undefined;
    // A refresh that keeps the decision never reads its violations: unreadable ones are neither parsed nor written.
    await redis.set(violationsKey, '[not json');
    assert.equal((await store.update(d, refresh, { findingsOnDemand: true })).written?.kind, 'refresh');
    assert.equal((await store.update(d, refresh)).written?.kind, 'refresh', 'nor parsed when read with the head');
    assert.equal(await redis.get(violationsKey), '[not json', 'the violations were not written');
    assert.equal((JSON.parse((await redis.get(headKey))!) as { violationsDigest: string }).violationsDigest, head.violationsDigest);
    // Read, they fail closed: unreadable, missing, or not the ones the head names.
    await assert.rejects(store.latest(d), (err: unknown) => ChainError.is(err, 'BAD_INPUT') && !err.retryable && /unreadable/.test(err.message));
    await redis.del(violationsKey);
    await assert.rejects(store.latest(d), /violations .* are missing/);
    await assert.rejects(store.update(d, refresh), /violations .* are missing/, 'the lazy mode fails on the missing key at once');
    await redis.set(violationsKey, JSON.stringify(recorded.decision.violations.slice(1)));
    await assert.rejects(store.latest(d), /not the ones its head names/);
    await assert.rejects(
      store.update(d, (latest) => (latest!.decision.violations.length ? undefined : undefined), { findingsOnDemand: true }),
      /not the ones its head names/,
    );
    await redis.set(violationsKey, stored);

    // On demand, a change that reads the violations gets them: it runs again once they are fetched.
    assert.deepEqual(
      await seenOnDemand(store, d, (r) => r.decision.violations.length),
      [count],
      'the second run saw the violations; the first stopped at the read',
    );

    // A head replaced between its read and the fetch of its parts: read again, never mixed with the newer parts.
    const before = (await redis.get(headKey))!;
    const runs: string[] = [];
    await store.update(
      d,
      (latest) => {
        runs.push(latest!.recordedAt);
        // Sent on the store's connection before its fetch: the record is replaced in between.
        if (runs.length === 1) void redis.set(headKey, JSON.stringify({ ...(JSON.parse(before) as object), recordedAt: '2031-01-01T00:00:00.000Z' }));
        return latest!.decision.violations.length === count ? undefined : undefined;
      },
      { findingsOnDemand: true },
    );
    assert.deepEqual(runs, ['2030-01-01T00:00:00.000Z', '2031-01-01T00:00:00.000Z', '2031-01-01T00:00:00.000Z'], 'read again after the replacement');

    // A new decision on the record's own violations (as an override makes) fetches and writes them.
    await redis.set(violationsKey, '[]');
    await redis.set(headKey, before);
    await assert.rejects(store.latest(d), /not the ones its head names/);
    await redis.set(violationsKey, stored);
    const overridden = await overrideOnDemand(store, d);
    assert.equal(overridden.written?.kind, 'decision');
    assert.deepEqual((await store.latest(d))?.decision.violations, recorded.decision.violations);
    assert.deepEqual((await store.history(d))[0]?.decision.violations, recorded.decision.violations, 'the history record holds them');
    assert.equal((await store.history(d))[0]?.override?.actor, 'a');

    // A head written before violations had a key of their own holds them: read as it is, stored apart by its next write.
    const legacy: Record<string, unknown> = { ...(JSON.parse(before) as object), decision: recorded.decision, recordedAt: '2029-01-01T00:00:00.000Z' };
    delete legacy.violationsDigest;
    delete legacy.override;
    // Then, its findings' key held the findings themselves (items had no table of their own).
    delete legacy.itemIds;
    await redis.set(headKey, JSON.stringify(legacy));
    await redis.set(`viol:findings:${d}`, JSON.stringify(found.findings));
    await redis.del(violationsKey);
    assert.deepEqual(await store.latest(d), { ...recorded, recordedAt: '2029-01-01T00:00:00.000Z' });
    assert.equal((await store.update(d, refresh, { findingsOnDemand: true })).written?.kind, 'refresh');
    assert.deepEqual(await listed(redis, 'viol:', violationsKey), recorded.decision.violations);
    assert.equal('violations' in (JSON.parse((await redis.get(headKey))!) as { decision: object }).decision, false);
    assert.deepEqual(await listed(redis, 'viol:', `viol:findings:${d}`), found.findings, 'the findings stored as ids by the same write');
    assert.deepEqual(await store.latest(d), { ...recorded, recordedAt: '2030-01-01T00:00:00.000Z' });
  });

  /** Facts of image `n` whose findings are `ids` (HIGH and fixable: `strict` makes each a violation). */
  const withFindings = (n: number, ids: string[]) =>
    imageFactsSchema.parse({
      ...facts(n),
      findings: ids.map((id) => ({ id, package: 'openssl', version: '3.0.1', ecosystem: 'Debian', severity: 'HIGH', fixable: true })),
    });

  /** The items each script call on `on` (the test's connection unless told) sent (id and JSON pairs past the script's 11 arguments), while `run` runs. */
  async function itemsSent(run: () => Promise<unknown>, on: Redis = redis): Promise<number[]> {
    const sent: number[] = [];
    const original = on.evalsha.bind(on) as (...args: unknown[]) => Promise<unknown>;
    (on as unknown as { evalsha: unknown }).evalsha = (...args: unknown[]) => {
      const keys = Number(args[1]);
      sent.push((args.length - 2 - keys - 11) / 2);
      return original(...args);
    };
    try {
      await run();
    } finally {
      (on as unknown as { evalsha: unknown }).evalsha = original;
    }
    return sent;
  }

  it('stores each finding and violation once, in a table of items named by their content: a record lists their ids, and items the store holds are not sent again', async () => {
    const store = new DecisionStore(redis, 'items:');
    const one = withFindings(100, ['CVE-2026-1', 'CVE-2026-2', 'CVE-2026-3']);
    // Another image with two of the same findings (the fleet's findings are shared objects), and one of its own.
    const two = imageFactsSchema.parse({ ...facts(101), findings: [one.findings[0], one.findings[2], withFindings(101, ['CVE-2026-4']).findings[0]] });
    const first = evaluatePolicy(one, strict, new Date());
    assert.ok(first.violations.length >= 3, 'a violation per finding');
    let recorded: DecisionRecord[] = [];
    const sent = await itemsSent(async () => {
      recorded = [await store.record(one, first), await store.record(two, evaluatePolicy(two, strict, new Date()))];
    });
    // The first record sends all its items; the second only those whose text the first did not hold.
    const texts = (r: DecisionRecord) => new Set([...r.facts.findings, ...r.decision.violations].map((i) => JSON.stringify(i)));
    const [ones, twos] = [texts(recorded[0]!), texts(recorded[1]!)];
    assert.equal(await redis.hlen('items:items'), new Set([...ones, ...twos]).size, 'one item per distinct text');
    assert.deepEqual(sent, [ones.size, [...twos].filter((t) => !ones.has(t)).length]);
    assert.ok(sent[1]! > 0 && sent[1]! < twos.size, `the second record sent ${sent[1]} of its ${twos.size} items`);
    assert.deepEqual(await listed(redis, 'items:', `items:findings:${digest(101)}`), two.findings);
    // Read back whole, from the record, and from the history (which lists them by id too).
    for (const [i, r] of recorded.entries()) {
      const d = r.decision.image.digest;
      assert.deepEqual(await store.latest(d), r);
      assert.deepEqual(await store.history(d), [r]);
      const entry = JSON.parse((await redis.lindex(`items:history:${d}`, 0))!) as { facts: { findings: unknown[] }; itemIds: boolean };
      assert.equal(entry.itemIds, true);
      assert.ok(
        entry.facts.findings.every((f) => typeof f === 'string'),
        `history ${i} lists ids`,
      );
    }
    // The same decision again: nothing to send; a refresh that keeps both parts sends neither items nor lists.
    assert.deepEqual(await itemsSent(() => store.record(one, first)), [0]);
    assert.equal((await store.history(digest(100))).length, 2);
  });

  it('sends again the items a store lost (a flushed or failed-over Redis) rather than naming them, and fails closed on a record whose items are gone or altered', async () => {
    const store = new DecisionStore(redis, 'lost:');
    const one = withFindings(110, ['CVE-2026-1', 'CVE-2026-2']);
    const decision = evaluatePolicy(one, strict, new Date());
    const recorded = await store.record(one, decision);
    await redis.del('lost:items');
    // Read without them: unreadable, never a record without findings.
    await assert.rejects(store.latest(digest(110)), (err: unknown) => ChainError.is(err, 'BAD_INPUT') && /item .* is missing/.test(err.message));
    await assert.rejects(store.history(digest(110)), /item .* is missing/);
    // The store knows it sent them: its next write names them, the script answers that they are missing, and they are sent.
    const two = imageFactsSchema.parse({ ...facts(111), findings: one.findings });
    const decided = evaluatePolicy(two, strict, new Date());
    const all = new Set([...two.findings, ...decided.violations].map((i) => JSON.stringify(i))).size;
    const sent = await itemsSent(() => store.record(two, decided));
    assert.deepEqual(sent, [all - new Set([...one.findings, ...decision.violations].map((i) => JSON.stringify(i))).size, all], 'named, refused, then sent');
    assert.deepEqual((await store.latest(digest(111)))?.facts.findings, one.findings);
    assert.deepEqual(await store.latest(digest(110)), recorded, 'the items the first record names are back');

    // An item whose text is not the one its id names fails every read of a record naming it.
    const [id] = JSON.parse((await redis.get(`lost:findings:${digest(110)}`))!) as string[];
    const text = (await redis.hget('lost:items', id!))!;
    await redis.hset('lost:items', id!, text.replace('CVE-2026-1', 'CVE-2026-9'));
    await assert.rejects(store.latest(digest(110)), /does not hold the text its id names/);
    await assert.rejects(store.history(digest(111)), /does not hold the text its id names/);
    await assert.rejects(
      store.update(digest(110), (latest) => (latest!.facts.findings.length ? undefined : undefined), { findingsOnDemand: true }),
      (err: unknown) => ChainError.is(err, 'BAD_INPUT') && /unreadable/.test(err.message),
    );
    await redis.hset('lost:items', id!, text);
    assert.deepEqual(await store.latest(digest(110)), recorded);
  });

  it('reads records whose parts hold the items themselves (written before the table of items), stores them as ids by their next write, and reads a history of both', async () => {
    const store = new DecisionStore(redis, 'older:');
    const d = digest(120);
    const found = withFindings(120, ['CVE-2026-1', 'CVE-2026-2']);
    const recorded = await store.record(found, evaluatePolicy(found, strict, new Date()));
    // The record as the store wrote it before: the same head without itemIds, its parts' keys holding the items.
    const head = JSON.parse((await redis.get(`older:decision:${d}`))!) as Record<string, unknown>;
    delete head.itemIds;
    const violations = JSON.stringify(recorded.decision.violations);
    head.violationsDigest = `sha256:${createHash('sha256').update(violations).digest('hex')}`;
    await redis.set(`older:decision:${d}`, JSON.stringify(head));
    await redis.set(`older:findings:${d}`, JSON.stringify(recorded.facts.findings));
    await redis.set(`older:violations:${d}`, violations);
    await redis.del(`older:history:${d}`);
    await redis.lpush(`older:history:${d}`, JSON.stringify(recorded));
    await redis.del('older:items');
    // Read and written by a worker started on the new code (its own connection: nothing known of the table of items).
    const connection = redis.duplicate();
    after(() => connection.disconnect());
    const upgraded = new DecisionStore(connection, 'older:');
    assert.deepEqual(await upgraded.latest(d), recorded, 'read as it is');
    const parts = recorded.facts.findings.length + recorded.decision.violations.length;
    assert.deepEqual(await seenOnDemand(upgraded, d, (r) => r.facts.findings.length + r.decision.violations.length), [parts], 'and on demand');

    // A refresh that keeps the decision writes its parts again, as ids: the next one writes the head alone.
    const refresh = (at: string) => (latest: DecisionRecord | undefined) =>
      latest
        ? ({ kind: 'refresh', record: { ...latest, facts: withFindingsOf(latest.facts, factsWithout(latest.facts)), recordedAt: at } } as const)
        : undefined;
    assert.deepEqual(await itemsSent(() => upgraded.update(d, refresh('2030-01-01T00:00:00.000Z'), { findingsOnDemand: true }), connection), [parts]);
    assert.equal((JSON.parse((await redis.get(`older:decision:${d}`))!) as { itemIds?: boolean }).itemIds, true);
    assert.deepEqual(await listed(redis, 'older:', `older:findings:${d}`), recorded.facts.findings);
    assert.deepEqual(await listed(redis, 'older:', `older:violations:${d}`), recorded.decision.violations);
    assert.deepEqual(await upgraded.latest(d), { ...recorded, recordedAt: '2030-01-01T00:00:00.000Z' });
    const findingsIds = await redis.get(`older:findings:${d}`);
    await redis.set(`older:findings:${d}`, '[not json');
    assert.equal((await upgraded.update(d, refresh('2030-01-02T00:00:00.000Z'), { findingsOnDemand: true })).written?.kind, 'refresh');
    assert.equal(await redis.get(`older:findings:${d}`), '[not json', 'kept unread: the head alone was written');
    await redis.set(`older:findings:${d}`, findingsIds!);

    // A new decision joins the history, listing its items by id; the older record there still holds its own.
    const overridden = await upgraded.recordOverride(d, { actor: 'alice', reason: 'INC-1' });
    const history = await upgraded.history(d);
    assert.deepEqual(history, [overridden, recorded]);
  });
});
