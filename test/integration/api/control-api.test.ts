/**
 * The control API end to end against real services: the access matrix (tokens × actions ×
 * resources, wildcards at each level, Deny over Allow, expired, revoked and missing tokens) with
 * an audit entry for every state-changing call and every refusal; team-scoped chains; an
 * on-demand scan against the chain's own; a chain that failed in sync retried by reset; and every
 * answer checked against the OpenAPI document, which itself passes a real validator.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { type AuditEntry } from '../../../src/audit/log';
import { DecisionStore } from '../../../src/policy/decision-store';
import { cosignTag, RegistryClient } from '../../../src/registry';
import { pushDemoImages } from '../../../src/demo/images';
import { busyboxSpec, pushImage, writeOciImage } from '../../support/images';
import { testDataDir } from '../../support/services';
import { type ApiHarness, startApiHarness, waitFor } from './harness';

const FAKE_DIGEST = `sha256:${'ab'.repeat(32)}`;
const chainPath = (id: string, suffix = '') => `/v1/chains/${encodeURIComponent(id)}${suffix}`;

describe('control API /v1 against Temporal, Redis and registries', () => {
  let h: ApiHarness;
  let admin: string;
  const stateChanging: Array<{ requestId: string; token: string; tokenName?: string; action: string; resource: string; status: number }> = [];

  before(async () => {
    h = await startApiHarness('control-api');
    admin = await h.token('admin', [{ Statement: [{ Effect: 'Allow', Action: ['*'], Resource: ['*'] }] }]);
  });

  const push = async (repository: string, marker: string) => {
    const layout = join(testDataDir(), marker);
    const desc = await writeOciImage(layout, busyboxSpec({ user: '1000', extra: [{ path: 'marker.txt', content: marker }] }), 'v1');
    await pushImage(layout, 'v1', `${h.sourceHost}/${repository}:v1`);
    return { digest: desc.digest, id: `chain:source/${repository}@${desc.digest}`, image: `${h.sourceHost}/${repository}:v1` };
  };
  const chainState = async (token: string, id: string) => {
    const r = await h.call('GET', '/v1/chains/:id', chainPath(id), { token });
    return r.status === 200 ? (r.body as { state: string; runId: string; failedStage?: string; results?: Record<string, unknown> }) : undefined;
  };

  it('serves an OpenAPI 3.1 document that a validator accepts', async () => {
    const doc = structuredClone(h.document);
    await SwaggerParser.validate(doc as never);
    assert.equal(h.document.openapi, '3.1.0');
    const paths = Object.keys(h.document.paths as object);
    for (const p of [
      '/v1/scans',
      '/v1/scans/{id}',
      '/v1/chains',
      '/v1/chains/{id}',
      '/v1/chains/{id}/retry',
      '/v1/chains/{id}/break-glass',
      '/v1/images/{digest}/decision',
      '/v1/rescans',
      '/v1/audit',
      '/v1/audit/export',
    ]) {
      assert.ok(paths.includes(p), `${p} documented`);
    }
  });

  it('access matrix: wildcards at each level, Deny over Allow, no statement, expired, revoked and missing tokens', async () => {
    const tokens = {
      teamA: await h.token('team-a', [{ Statement: [{ Effect: 'Allow', Action: ['chain:*', 'scan:*'], Resource: ['dchain:source/team-a/*'] }] }]),
      anyRegistry: await h.token('any-registry', [{ Statement: [{ Effect: 'Allow', Action: ['chain:Read'], Resource: ['dchain:*/team-b/app'] }] }]),
      anyNamespace: await h.token('any-namespace', [{ Statement: [{ Effect: 'Allow', Action: ['chain:Retry'], Resource: ['dchain:source/*/app'] }] }]),
      listOnly: await h.token('list-only', [{ Statement: [{ Effect: 'Allow', Action: ['chain:List*'], Resource: ['dchain:*'] }] }]),
      denyWins: await h.token('deny-wins', [
        { Statement: [{ Effect: 'Allow', Action: ['*'], Resource: ['dchain:source/*/*'] }] },
        { Statement: [{ Sid: 'no-retry-a', Effect: 'Deny', Action: ['chain:Retry'], Resource: ['dchain:source/team-a/*'] }] },
      ]),
      expiring: await h.token('expiring', [{ Statement: [{ Effect: 'Allow', Action: ['*'], Resource: ['*'] }] }], new Date(Date.now() + 1500).toISOString()),
      revoked: await h.token('revoked', [{ Statement: [{ Effect: 'Allow', Action: ['*'], Resource: ['*'] }] }]),
    };
    await h.tokens.revoke(tokens.revoked.split('_')[1]!);
    await new Promise((r) => setTimeout(r, 1600));
    const a = `chain:source/team-a/app@${FAKE_DIGEST}`;
    const b = `chain:source/team-b/app@${FAKE_DIGEST}`;
    const other = `chain:mirror/team-b/app@${FAKE_DIGEST}`;
    const deep = `chain:source/team-a/web/ui@${FAKE_DIGEST}`;
    // [token, method, chain id, action, expected status]: allowed reads/retries of a chain that does not exist answer 404 (past authorization).
    const matrix: Array<[keyof typeof tokens | 'admin', 'read' | 'retry', string, number]> = [
      ['admin', 'read', a, 404],
      ['admin', 'retry', b, 404],
      ['teamA', 'read', a, 404],
      ['teamA', 'read', deep, 404],
      ['teamA', 'retry', a, 404],
      ['teamA', 'read', b, 403],
      ['teamA', 'retry', b, 403],
      ['anyRegistry', 'read', b, 404],
      ['anyRegistry', 'read', other, 404],
      ['anyRegistry', 'read', a, 403],
      ['anyRegistry', 'retry', b, 403],
      ['anyNamespace', 'retry', a, 404],
      ['anyNamespace', 'retry', b, 404],
      ['anyNamespace', 'retry', deep, 403],
      ['anyNamespace', 'read', a, 403],
      ['listOnly', 'read', a, 403],
      ['denyWins', 'read', a, 404],
      ['denyWins', 'retry', b, 404],
      ['denyWins', 'retry', a, 403],
      ['denyWins', 'read', other, 403],
      ['expiring', 'read', a, 401],
      ['expiring', 'retry', a, 401],
      ['revoked', 'retry', a, 401],
    ];
    for (const [who, op, id, expected] of matrix) {
      const token = who === 'admin' ? admin : tokens[who];
      const r =
        op === 'read'
          ? await h.call('GET', '/v1/chains/:id', chainPath(id), { token })
          : await h.call('POST', '/v1/chains/:id/retry', chainPath(id, '/retry'), { token, body: {} });
      assert.equal(r.status, expected, `${who} ${op} ${id}: ${JSON.stringify(r.body)}`);
      assert.match(String(r.contentType), /application\/problem\+json/);
      if (op === 'retry' || expected === 403 || expected === 401) {
        const resource = `dchain:${id.slice('chain:'.length, id.indexOf('@'))}`;
        stateChanging.push({
          requestId: r.requestId,
          token,
          ...(expected !== 401
            ? { tokenName: who === 'admin' ? 'admin' : who.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace('team-a', 'team-a') }
            : {}),
          action: op === 'read' ? 'chain:Read' : 'chain:Retry',
          resource: expected === 401 ? '-' : resource,
          status: expected,
        });
      }
    }
    // No token, a malformed one.
    for (const token of [undefined, 'not-a-token']) {
      const r = await h.call('POST', '/v1/chains/:id/retry', chainPath(a, '/retry'), { ...(token ? { token } : {}), body: {} });
      assert.equal(r.status, 401);
      stateChanging.push({ requestId: r.requestId, token: token ?? '', action: 'chain:Retry', resource: '-', status: 401 });
    }
    // Global resources: a team's repository wildcard does not reach the audit log.
    assert.equal((await h.call('GET', '/v1/audit', '/v1/audit', { token: tokens.teamA })).status, 403);
    assert.equal((await h.call('GET', '/v1/audit', '/v1/audit', { token: tokens.denyWins })).status, 403);
    // A listing needs an Allow of the action somewhere, and shows only what the token may list.
    assert.equal((await h.call('GET', '/v1/chains', '/v1/chains', { token: tokens.anyNamespace })).status, 403);
    assert.equal((await h.call('GET', '/v1/chains', '/v1/chains', { token: tokens.listOnly })).status, 200);

    // Every one of those state-changing calls and refusals is in the audit log with the right fields.
    const log = await h.call('GET', '/v1/audit', '/v1/audit?limit=1000', { token: admin });
    assert.equal(log.status, 200);
    const entries = (log.body as { entries: AuditEntry[] }).entries;
    for (const expected of stateChanging) {
      const entry = entries.find((e) => e.requestId === expected.requestId);
      assert.ok(entry, `audit entry for ${JSON.stringify(expected)}`);
      assert.equal(entry.action, expected.action);
      assert.equal(entry.status, expected.status);
      assert.equal(entry.outcome, expected.status === 401 ? 'unauthenticated' : expected.status === 403 ? 'denied' : 'failure');
      if (expected.status !== 401) {
        assert.equal(entry.resource, expected.resource);
        assert.equal(entry.tokenId, expected.token.split('_')[1]);
        assert.ok(entry.tokenName, 'token name recorded');
      }
      assert.ok(entry.reason.length > 0);
      assert.ok(!JSON.stringify(entry).includes('dct_'), 'no token secret in the audit log');
    }
    const denied = entries.find((e) => e.requestId === stateChanging.find((s) => s.status === 403 && s.tokenName === 'deny-wins')?.requestId);
    assert.match(denied?.reason ?? '', /explicitly denied by policy 2, statement 1 \(no-retry-a\)/);
    // Filters and the JSON Lines export, and the file copy.
    const filtered = (await h.call('GET', '/v1/audit', `/v1/audit?actor=team-a&action=chain:Retry`, { token: admin })).body as { entries: AuditEntry[] };
    assert.ok(filtered.entries.length >= 2 && filtered.entries.every((e) => e.tokenName === 'team-a' && e.action === 'chain:Retry'));
    const exported = await h.call('GET', '/v1/audit/export', '/v1/audit/export?action=chain:*', { token: admin });
    const lines = String(exported.body)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEntry);
    assert.ok(lines.length >= stateChanging.length - 2 && lines.every((e) => e.action.startsWith('chain:')));
    const file = readFileSync(h.config.audit.file!, 'utf8').trim().split('\n');
    assert.ok(file.length >= entries.length);
    const page1 = (await h.call('GET', '/v1/audit', '/v1/audit?limit=2', { token: admin })).body as { entries: AuditEntry[]; next?: string };
    const page2 = (await h.call('GET', '/v1/audit', `/v1/audit?limit=2&cursor=${page1.next}`, { token: admin })).body as { entries: AuditEntry[] };
    assert.equal(page1.entries.length, 2);
    assert.notEqual(page2.entries[0]?.id, page1.entries[1]?.id);
    assert.ok(page2.entries[0]!.id < page1.entries[1]!.id);
    // The same policies through the CLI: create a token from a file, explain a decision.
    const policyFile = join(testDataDir(), 'team-a.json');
    writeFileSync(
      policyFile,
      JSON.stringify({
        Statement: [
          { Sid: 'team-a', Effect: 'Allow', Action: ['chain:*'], Resource: ['dchain:source/team-a/*'] },
          { Sid: 'no-glass', Effect: 'Deny', Action: ['chain:BreakGlass'], Resource: ['*'] },
        ],
      }),
    );
    const created = await h.dchain(['tokens', 'create', '--name', 'cli-team-a', '--policy', policyFile, '--json']);
    assert.equal(created.code, 0, created.stderr);
    const cliToken = (JSON.parse(created.stdout) as { token: string; id: string }).token;
    const allowed = await h.dchain(['access', 'check', cliToken, 'chain:Retry', 'dchain:source/team-a/app']);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /^ALLOW: allowed by policy 1, statement 1 \(team-a\)/);
    const deniedCli = await h.dchain(['access', 'check', cliToken, 'chain:BreakGlass', 'dchain:source/team-a/app']);
    assert.equal(deniedCli.code, 3);
    assert.match(deniedCli.stdout, /^DENY: explicitly denied by policy 1, statement 2 \(no-glass\)/);
    const listedTokens = await h.dchain(['tokens', 'list', '--json']);
    assert.ok(!listedTokens.stdout.includes('dct_') && !listedTokens.stdout.includes('"hash"'), 'no secrets or hashes listed');
    assert.equal((await h.dchain(['tokens', 'revoke', cliToken.split('_')[1]!])).code, 0);
    assert.match(
      (await h.dchain(['access', 'check', cliToken, 'chain:Retry', 'dchain:source/team-a/app'])).stdout,
      /DENY: the token does not authenticate: revoked/,
    );
    assert.equal((await h.call('GET', '/v1/chains/:id', chainPath(a), { token: cliToken })).status, 401);
    const cliAudit = await h.dchain(['audit', '--actor', 'team-a', '--json', '--token', admin]);
    assert.ok((JSON.parse(cliAudit.stdout) as { entries: AuditEntry[] }).entries.every((e) => e.tokenName === 'team-a'));

    // Tokens through the API: token:* on the global resource only.
    const made = await h.call('POST', '/v1/tokens', '/v1/tokens', {
      token: admin,
      body: { name: 'api-made', policies: [{ Statement: [{ Effect: 'Allow', Action: ['chain:Read'], Resource: ['dchain:source/*/*'] }] }] },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const madeToken = (made.body as { token: string; id: string }).token;
    assert.equal((await h.call('GET', '/v1/chains/:id', chainPath(a), { token: madeToken })).status, 404);
    assert.equal(
      (
        await h.call('POST', '/v1/tokens', '/v1/tokens', {
          token: tokens.teamA,
          body: { name: 'x', policies: [{ Statement: [{ Effect: 'Allow', Action: ['*'], Resource: ['*'] }] }] },
        })
      ).status,
      403,
    );
    const badPolicy = await h.call('POST', '/v1/tokens', '/v1/tokens', {
      token: admin,
      body: { name: 'x', policies: [{ Statement: [{ Effect: 'Maybe', Action: ['*'], Resource: ['*'] }] }] },
    });
    assert.equal(badPolicy.status, 400);
    assert.match((badPolicy.body as { detail: string }).detail, /Effect/);
    const listed = await h.call('GET', '/v1/tokens', '/v1/tokens', { token: admin });
    assert.ok(!JSON.stringify(listed.body).includes('"hash"') && !JSON.stringify(listed.body).includes('dct_'));
    assert.equal((await h.call('DELETE', '/v1/tokens/:id', `/v1/tokens/${(made.body as { id: string }).id}`, { token: admin })).status, 200);
    assert.equal((await h.call('GET', '/v1/chains/:id', chainPath(a), { token: madeToken })).status, 401);
    const tokenAudit = ((await h.call('GET', '/v1/audit', '/v1/audit?action=token:*', { token: admin })).body as { entries: AuditEntry[] }).entries;
    assert.deepEqual(tokenAudit.map((e) => `${e.action}:${e.outcome}`).slice(0, 4), [
      'token:Revoke:success',
      'token:Create:failure',
      'token:Create:denied',
      'token:Create:success',
    ]);
    assert.ok(!JSON.stringify(tokenAudit).includes(madeToken), 'the new token is not in the audit log');

    // Bad input is a problem+json naming the field.
    const bad = await h.call('GET', '/v1/chains/:id', chainPath('chain:nope'), { token: admin });
    assert.equal(bad.status, 400);
    assert.match((bad.body as { detail: string }).detail, /chain id/);
  });

  it('a team token triggers, reads and lists its own chains and gets 403 (audited) for another team', async () => {
    const teamA = await h.token('team-a-ci', [
      { Statement: [{ Effect: 'Allow', Action: ['chain:Trigger', 'chain:Read', 'chain:List*', 'chain:Retry'], Resource: ['dchain:source/team-a/*'] }] },
    ]);
    const mine = await push('team-a/app', 'team-a-app');
    const theirs = await push('team-b/app', 'team-b-app');
    const started = await h.call('POST', '/v1/chains', '/v1/chains', { token: teamA, body: { image: mine.image } });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal((started.body as { id: string }).id, mine.id);
    const refused = await h.call('POST', '/v1/chains', '/v1/chains', { token: teamA, body: { image: theirs.image } });
    assert.equal(refused.status, 403);
    assert.equal((await h.call('POST', '/v1/chains', '/v1/chains', { token: admin, body: { image: theirs.image } })).status, 202);
    await waitFor('team-a chain delivered', async () => ((await chainState(teamA, mine.id))?.state === 'delivered' ? true : undefined), 180_000);
    await waitFor('team-b chain delivered', async () => ((await chainState(admin, theirs.id))?.state === 'delivered' ? true : undefined), 180_000);
    assert.equal((await h.call('GET', '/v1/chains/:id', chainPath(theirs.id), { token: teamA })).status, 403);
    const listed = (await h.call('GET', '/v1/chains', '/v1/chains', { token: teamA })).body as { chains: Array<{ id: string }> };
    assert.deepEqual(
      listed.chains.map((c) => c.id),
      [mine.id],
    );
    const all = (await h.call('GET', '/v1/chains', '/v1/chains?limit=1', { token: admin })).body as { chains: Array<{ id: string }>; next?: string };
    assert.equal(all.chains.length, 1);
    const rest = (await h.call('GET', '/v1/chains', `/v1/chains?limit=10&cursor=${all.next}`, { token: admin })).body as { chains: Array<{ id: string }> };
    assert.deepEqual([...all.chains, ...rest.chains].map((c) => c.id).sort(), [mine.id, theirs.id].sort());
    const entry = ((await h.call('GET', '/v1/audit', `/v1/audit?actor=team-a-ci`, { token: admin })).body as { entries: AuditEntry[] }).entries.find(
      (e) => e.requestId === refused.requestId,
    );
    assert.equal(entry?.outcome, 'denied');
    assert.equal(entry?.resource, 'dchain:source/team-b/app');
    assert.equal(entry?.action, 'chain:Trigger');
    // The decision of a delivered image, for those who may read it.
    const decision = await h.call('GET', '/v1/images/:digest/decision', `/v1/images/${mine.digest}/decision`, { token: admin });
    assert.equal(decision.status, 200);
    assert.equal((decision.body as { allowed: boolean }).allowed, true);
    assert.equal((await h.call('GET', '/v1/images/:digest/decision', `/v1/images/${mine.digest}/decision`, { token: teamA })).status, 403);
  });

  it('POST /v1/scans returns the findings and verdict of the chain’s scan of the same digest', async () => {
    const [, vulnerable] = await pushDemoImages(RegistryClient.fromConfig(h.config.registries[0]!));
    const image = vulnerable!.reference;
    const id = `chain:source/${vulnerable!.repository}@${vulnerable!.digest}`;
    assert.equal((await h.call('POST', '/v1/chains', '/v1/chains', { token: admin, body: { image } })).status, 202);
    await waitFor('the demo chain blocked', async () => ((await chainState(admin, id))?.state === 'blocked' ? true : undefined), 180_000);
    const created = await h.call('POST', '/v1/scans', '/v1/scans', { token: admin, body: { image } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const scanId = (created.body as { id: string }).id;
    const scan = await waitFor(
      'the scan job',
      async () => {
        const r = await h.call('GET', '/v1/scans/:id', `/v1/scans/${encodeURIComponent(scanId)}`, { token: admin });
        const body = r.body as { status: string };
        return body.status === 'completed'
          ? (r.body as {
              verdict: string;
              findings: Array<{ id: string; package: { name: string } }>;
              counts: Record<string, number>;
              sbom?: { bomFormat: string };
              decision: { violations: Array<{ rule: string; enforced: boolean }> };
            })
          : undefined;
      },
      180_000,
    );
    const record = await new DecisionStore(h.redis).latest(vulnerable!.digest);
    assert.ok(record);
    assert.equal(scan.verdict, record.decision.allowed ? 'allowed' : 'denied');
    assert.equal(scan.verdict, 'denied');
    const key = (f: { id: string; package: { name: string } }) => `${f.id}/${f.package.name}`;
    assert.deepEqual(scan.findings.map(key).sort(), record.facts.findings.map((f) => `${f.id}/${f.package}`).sort());
    assert.ok(scan.findings.length > 0);
    const rules = (v: Array<{ rule: string; enforced: boolean }>) =>
      v
        .filter((x) => x.enforced)
        .map((x) => x.rule)
        .sort();
    assert.deepEqual(rules(scan.decision.violations), rules(record.decision.violations as Array<{ rule: string; enforced: boolean }>));
    const detail = await chainState(admin, id);
    assert.deepEqual(scan.counts, (detail?.results?.scan as { counts: Record<string, number> }).counts);
    assert.equal(scan.sbom?.bomFormat, 'CycloneDX');
    // The scan recorded no decision of its own: admission still follows the chain's.
    assert.equal((await new DecisionStore(h.redis).history(vulnerable!.digest)).length, 1);
    // Break-glass through the API carries the token's identity.
    const glass = await h.call('POST', '/v1/chains/:id/break-glass', chainPath(id, '/break-glass'), { token: admin, body: { reason: 'INC-1: accepted risk' } });
    assert.equal(glass.status, 202, JSON.stringify(glass.body));
    assert.match((glass.body as { actor: string }).actor, /^token:admin \(/);
  });

  it('a chain failed in sync (mirror down) is retried by reset after the mirror is back: no duplicate signature, attestation, tag or notification', async () => {
    const teamA = await h.token('team-a-ops', [{ Statement: [{ Effect: 'Allow', Action: ['chain:*'], Resource: ['dchain:source/team-a/*'] }] }]);
    const img = await push('team-a/syncfail', 'team-a-syncfail');
    await h.stopMirror();
    try {
      assert.equal((await h.call('POST', '/v1/chains', '/v1/chains', { token: teamA, body: { image: img.image } })).status, 202);
      await waitFor('the chain failed in sync', async () => ((await chainState(teamA, img.id))?.state === 'failed' ? true : undefined), 420_000);
    } finally {
      await h.startMirror();
    }
    const failed = await chainState(teamA, img.id);
    assert.equal(failed?.failedStage, 'sync');
    const listedFailed = (await h.call('GET', '/v1/chains', '/v1/chains?state=failed', { token: teamA })).body as { chains: Array<{ id: string }> };
    assert.deepEqual(
      listedFailed.chains.map((c) => c.id),
      [img.id],
    );
    const cliFailed = await h.dchain(['runs', 'list', '--failed'], { DCHAIN_TOKEN: teamA });
    assert.equal(cliFailed.code, 0, cliFailed.stderr);
    assert.match(cliFailed.stdout, new RegExp(`^failed\\s+failed:sync\\s+\\S+\\s+${img.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    const source = RegistryClient.fromConfig(h.config.registries[0]!);
    const sigBefore = (await source.getManifest('team-a/syncfail', cosignTag(img.digest, 'sig'))).manifest as { layers: unknown[] };
    const attBefore = (await source.getManifest('team-a/syncfail', cosignTag(img.digest, 'att'))).manifest as { layers: unknown[] };

    const retry = await h.call('POST', '/v1/chains/:id/retry', chainPath(img.id, '/retry'), { token: teamA, body: {} });
    assert.equal(retry.status, 202, JSON.stringify(retry.body));
    assert.equal((retry.body as { mode: string; stage: string }).mode, 'reset');
    assert.equal((retry.body as { stage: string }).stage, 'sync');
    await waitFor('the reset chain delivered', async () => ((await chainState(teamA, img.id))?.state === 'delivered' ? true : undefined), 180_000);

    const mirror = RegistryClient.fromConfig(h.config.registries[1]!);
    for (const [client, repo] of [
      [source, 'team-a/syncfail'],
      [mirror, 'eu/team-a/syncfail'],
    ] as const) {
      assert.equal(
        ((await client.getManifest(repo, cosignTag(img.digest, 'sig'))).manifest as { layers: unknown[] }).layers.length,
        sigBefore.layers.length,
        `${repo}: one signature`,
      );
      assert.equal(
        ((await client.getManifest(repo, cosignTag(img.digest, 'att'))).manifest as { layers: unknown[] }).layers.length,
        attBefore.layers.length,
        `${repo}: no extra attestation`,
      );
    }
    assert.deepEqual((await mirror.listTags('eu/team-a/syncfail')).filter((t) => !t.startsWith('sha256-')).sort(), ['stable', 'v1']);
    assert.deepEqual(
      h.notes.filter((n) => n.digest === img.digest).map((n) => n.event),
      ['distributed'],
    );
    const stillFailed = (await h.call('GET', '/v1/chains', '/v1/chains?state=failed', { token: teamA })).body as { chains: Array<{ id: string }> };
    assert.deepEqual(stillFailed.chains, []);
    const cliAfter = await h.dchain(['runs', 'list', '--failed', '--json', '--token', teamA]);
    assert.equal(cliAfter.code, 0, cliAfter.stderr);
    assert.deepEqual((JSON.parse(cliAfter.stdout) as { chains: unknown[] }).chains, []);
    const shown = await h.dchain(['runs', 'show', img.id, '--json', '--token', teamA]);
    assert.equal((JSON.parse(shown.stdout) as { state: string; runs: number }).state, 'delivered');
    const entry = ((await h.call('GET', '/v1/audit', '/v1/audit?action=chain:Retry&actor=team-a-ops', { token: admin })).body as { entries: AuditEntry[] })
      .entries[0];
    assert.equal(entry?.outcome, 'success');
    assert.match(entry?.reason ?? '', /reset to event \d+ before syncImage \(sync\)/);
  });

  it('rescans through the API, and every route’s answers were checked against the document', async () => {
    const started = await h.call('POST', '/v1/rescans', '/v1/rescans', { token: admin });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const listed = await waitFor('the rescan listed', async () => {
      const r = await h.call('GET', '/v1/rescans', '/v1/rescans', { token: admin });
      return (r.body as { rescans: unknown[] }).rescans.length > 0 ? r : undefined;
    });
    assert.equal(listed.status, 200);
    const documented = Object.entries(h.document.paths as Record<string, object>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    assert.deepEqual(
      documented.filter((r) => !h.checked.has(r)),
      [],
    );
  });
});
