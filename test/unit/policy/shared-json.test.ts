import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluatePolicy } from '../../../src/policy';
import { sharedItemsJson, sharedJsonRemembered } from '../../../src/policy/shared-json';
import { facts, finding, NOW, policyWith } from './fixtures';

describe('sharedItemsJson', () => {
  it('writes what JSON.stringify writes, for empty arrays, absent optional fields, nesting and non-ASCII text', () => {
    const items = [
      { id: 'GHSA-1', aliases: [], optional: undefined, nested: { a: [1, 2, { b: null }] }, n: 7.5, yes: true },
      { id: 'DEBIAN-CVE-2024-1', message: 'zlib «1.2» — fixed in 1:1.2.13 \u2028 "quoted" \\ \u0007' },
    ];
    assert.equal(sharedItemsJson([]), JSON.stringify([]));
    assert.equal(sharedItemsJson(items), JSON.stringify(items));
    assert.equal(sharedItemsJson([items[1]!]), JSON.stringify([items[1]]));
    // Remembered per item, in whichever array and position it comes again.
    assert.equal(sharedItemsJson([items[1]!, items[0]!, items[1]!]), JSON.stringify([items[1], items[0], items[1]]));
  });

  it("writes a decision's findings and violations as JSON.stringify does, the facts shared by two images", () => {
    const policy = policyWith({ vulnerabilities: { maxSeverity: { fixable: 'LOW', unfixable: 'LOW' } } });
    const one = facts({
      findings: [finding('GHSA-a', 'HIGH', false), finding('GHSA-b', 'CRITICAL', true, { vendorSeverity: { source: 'Debian', rating: 'high' } })],
    });
    const two = facts({ findings: [one.findings[1]!] });
    for (const image of [one, two, one]) {
      const { findings } = image;
      const decision = evaluatePolicy(image, policy, NOW);
      assert.ok(decision.violations.length > 0);
      assert.equal(sharedItemsJson(findings), JSON.stringify(findings));
      assert.equal(sharedItemsJson(decision.violations), JSON.stringify(decision.violations));
    }
  });

  it('starts over once it holds its bound of JSON, and still writes what JSON.stringify writes', () => {
    const { max } = sharedJsonRemembered();
    const text = 'x'.repeat(100_000);
    const items = Array.from({ length: Math.ceil(max / text.length) + 10 }, (_, i) => ({ id: `item-${i}`, text }));
    let restarted = false;
    for (let start = 0; start < items.length; start += 50) {
      const before = sharedJsonRemembered().chars;
      const batch = items.slice(start, start + 50);
      assert.equal(sharedItemsJson(batch), JSON.stringify(batch));
      const after = sharedJsonRemembered().chars;
      assert.ok(after <= max, `${after} characters remembered, bound ${max}`);
      if (after < before) restarted = true;
    }
    assert.ok(restarted, 'the memo never started over');
  });
});
