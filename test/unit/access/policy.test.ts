import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACTIONS, actionMatches, evaluateAccess, GLOBAL_RESOURCE, policyDocumentSchema, resourceMatches, resourceOf } from '../../../src/access/policy';

describe('RAM-style access policies', () => {
  it('matches action wildcards, without regard to case', () => {
    assert.ok(actionMatches('*', 'chain:Retry'));
    assert.ok(actionMatches('chain:*', 'chain:Retry'));
    assert.ok(actionMatches('chain:List*', 'chain:ListChains'));
    assert.ok(actionMatches('CHAIN:read', 'chain:Read'));
    assert.ok(!actionMatches('chain:List*', 'chain:Read'));
    assert.ok(!actionMatches('scan:*', 'chain:Read'));
    assert.equal(ACTIONS.filter((a) => actionMatches('token:*', a)).length, 3);
  });

  it('matches resources with * at each level; a repository * covers deeper paths, the others one component', () => {
    const r = resourceOf('source', 'team-a/web/ui');
    assert.equal(r, 'dchain:source/team-a/web/ui');
    assert.ok(resourceMatches('dchain:source/team-a/*', r));
    assert.ok(resourceMatches('dchain:*/team-a/web/ui', r));
    assert.ok(resourceMatches('dchain:source/*/web/ui', r));
    assert.ok(resourceMatches('dchain:source/team-*/*', r));
    assert.ok(!resourceMatches('dchain:source/team-b/*', r));
    assert.ok(!resourceMatches('dchain:mirror/*/*', r));
    assert.ok(!resourceMatches('dchain:source/*/ui', r), 'the namespace * is one component');
    assert.ok(resourceMatches('dchain:source/*/*', resourceOf('source', 'app')), 'a repository without namespace');
    assert.ok(!resourceMatches('dchain:source/team-a/*', GLOBAL_RESOURCE), 'a team pattern does not reach global resources');
    assert.ok(resourceMatches('dchain:*', GLOBAL_RESOURCE));
    assert.ok(resourceMatches('*', r));
  });

  it('explicit Deny wins over Allow, in any document; no matching statement denies', () => {
    const policies = [
      policyDocumentSchema.parse({ Statement: [{ Effect: 'Allow', Action: ['chain:*'], Resource: ['dchain:source/*/*'] }] }),
      policyDocumentSchema.parse({ Statement: [{ Sid: 'freeze', Effect: 'Deny', Action: ['chain:Retry'], Resource: ['dchain:source/team-a/*'] }] }),
    ];
    assert.deepEqual(evaluateAccess(policies, 'chain:Read', 'dchain:source/team-a/app').decidedBy, { policy: 0, statement: 0, effect: 'Allow' });
    const denied = evaluateAccess(policies, 'chain:Retry', 'dchain:source/team-a/app');
    assert.equal(denied.allowed, false);
    assert.match(denied.reason, /explicitly denied by policy 2, statement 1 \(freeze\)/);
    assert.equal(evaluateAccess(policies, 'chain:Retry', 'dchain:source/team-b/app').allowed, true);
    const none = evaluateAccess(policies, 'audit:Read', GLOBAL_RESOURCE);
    assert.equal(none.allowed, false);
    assert.equal(none.decidedBy, undefined);
    assert.equal(evaluateAccess([], 'chain:Read', 'dchain:source/a/b').allowed, false);
  });

  it('validates documents and names the problem', () => {
    const bad = policyDocumentSchema.safeParse({ Statement: [{ Effect: 'Permit', Action: [], Resource: ['source/*'] }] });
    assert.equal(bad.success, false);
    const paths = bad.error!.issues.map((i) => i.path.join('.'));
    assert.deepEqual(paths.sort(), ['Statement.0.Action', 'Statement.0.Effect', 'Statement.0.Resource.0']);
    assert.equal(policyDocumentSchema.safeParse({ Statement: [{ Effect: 'Allow', Action: ['*'], Resource: ['*'], Extra: 1 }] }).success, false);
  });
});
