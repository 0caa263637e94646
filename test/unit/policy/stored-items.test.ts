import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { evaluatePolicy } from '../../../src/policy';
import { itemIdsSchema, itemList, storedItem, storedItemsRemembered } from '../../../src/policy/stored-items';
import { facts, finding, NOW, policyWith } from './fixtures';

/** What a list of items must be stored as: each item's JSON as JSON.stringify writes it, named by its SHA-256. */
function expected(items: readonly object[]): { ids: string[]; jsons: string[] } {
  const jsons = items.map((item) => JSON.stringify(item));
  return { ids: jsons.map((json) => createHash('sha256').update(json).digest('base64url')), jsons };
}

function check(items: readonly object[]): void {
  const list = itemList(items);
  const { ids, jsons } = expected(items);
  assert.deepEqual(
    list.items.map((i) => i.json),
    jsons,
  );
  assert.deepEqual(
    list.items.map((i) => i.id),
    ids,
  );
  assert.deepEqual(JSON.parse(list.idsJson), ids);
  assert.deepEqual(itemIdsSchema.parse(JSON.parse(list.idsJson)), ids, 'ids the store reads back');
}

describe('stored items', () => {
  it('stores what JSON.stringify writes, named by its SHA-256, for empty lists, absent optional fields, nesting and non-ASCII text', () => {
    const items = [
      { id: 'GHSA-1', aliases: [], optional: undefined, nested: { a: [1, 2, { b: null }] }, n: 7.5, yes: true },
      { id: 'DEBIAN-CVE-2024-1', message: 'zlib «1.2» — fixed in 1:1.2.13 \u2028 "quoted" \\ \u0007 😀' },
    ];
    assert.equal(itemList([]).idsJson, '[]');
    check(items);
    check([items[1]!]);
    // Remembered per item, in whichever list and position it comes again; an item listed twice is named twice.
    check([items[1]!, items[0]!, items[1]!]);
    assert.equal(storedItem(items[0]!), storedItem(items[0]!), 'remembered');
    // Equal text, equal id: two objects with the same fields are one item.
    assert.equal(storedItem({ ...items[1]! }).id, storedItem(items[1]!).id);
    assert.notEqual(storedItem({ ...items[1]!, id: 'other' }).id, storedItem(items[1]!).id);
  });

  it("stores a decision's findings and violations as JSON.stringify writes them, the facts shared by two images", () => {
    const policy = policyWith({ vulnerabilities: { maxSeverity: { fixable: 'LOW', unfixable: 'LOW' } } });
    const one = facts({
      findings: [finding('GHSA-a', 'HIGH', false), finding('GHSA-b', 'CRITICAL', true, { vendorSeverity: { source: 'Debian', rating: 'high' } })],
    });
    const two = facts({ findings: [one.findings[1]!] });
    for (const image of [one, two, one]) {
      const decision = evaluatePolicy(image, policy, NOW);
      assert.ok(decision.violations.length > 0);
      check(image.findings);
      check(decision.violations);
    }
  });

  it('starts over once it holds its bound of JSON, and still stores what JSON.stringify writes', () => {
    const { max } = storedItemsRemembered();
    const text = 'x'.repeat(100_000);
    const items = Array.from({ length: Math.ceil(max / text.length) + 10 }, (_, i) => ({ id: `item-${i}`, text }));
    let restarted = false;
    for (let start = 0; start < items.length; start += 50) {
      const before = storedItemsRemembered().chars;
      check(items.slice(start, start + 50));
      const after = storedItemsRemembered().chars;
      assert.ok(after <= max, `${after} characters remembered, bound ${max}`);
      if (after < before) restarted = true;
    }
    assert.ok(restarted, 'the memo never started over');
  });
});
