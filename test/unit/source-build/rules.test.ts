import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBuildRequest } from '../../../src/chain';
import { buildConfigSchema } from '../../../src/config/sections/build';
import { buildRequestFromPush, repositoryName } from '../../../src/source-build/rules';
import { buildChainWorkflowId } from '../../../src/chain';
import { sanitizeTag } from '../../../src/source-build/template';
import { ChainError } from '../../../src/errors/chain-error';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const config = buildConfigSchema.parse({
  staging: { registry: 'staging', repository: 'builds/${repo}' },
  rules: [
    { ref: '^refs/tags/release-(?<tag>.+)$', tags: ['${tag}', 'release'] },
    { ref: '^refs/heads/main$', repository: 'github\\.com/team/', tags: ['main-${shortCommit}'], image: 'team/${repo}', dockerfile: 'build/Dockerfile' },
    { ref: '^refs/heads/(?<branch>.+)$', tags: ['${branch}'] },
  ],
});
const push = (ref: string, repoUrl = 'https://github.com/team/My_App.git') => ({ repoUrl, ref, commit: COMMIT, source: 'forge' });

void describe('build rules', () => {
  void it('maps a release tag through named groups', () => {
    const r = buildRequestFromPush(push('refs/tags/release-2.1.0'), config.rules, config.staging);
    assert.deepEqual(r && { tags: r.tags, repository: r.repository, registry: r.registry, commit: r.commit }, {
      tags: ['2.1.0', 'release'],
      repository: 'builds/my_app',
      registry: 'staging',
      commit: COMMIT,
    });
  });

  void it('takes the first matching rule, honouring its repository pattern, image and Dockerfile', () => {
    const main = buildRequestFromPush(push('refs/heads/main'), config.rules, config.staging);
    assert.deepEqual(main && [main.tags, main.repository, main.dockerfile], [['main-0123456'], 'team/my_app', 'build/Dockerfile']);
    const elsewhere = buildRequestFromPush(push('refs/heads/main', 'https://gitlab.example/other/svc.git'), config.rules, config.staging);
    assert.deepEqual(elsewhere && [elsewhere.tags, elsewhere.repository], [['main'], 'builds/svc']);
  });

  void it('sanitizes expanded tags and matches nothing without a rule', () => {
    const feature = buildRequestFromPush(push('refs/heads/feature/login'), config.rules, config.staging);
    assert.deepEqual(feature?.tags, ['feature-login']);
    assert.equal(buildRequestFromPush(push('refs/pull/1/head'), config.rules, config.staging), undefined);
    assert.equal(sanitizeTag('.hidden'), '_.hidden');
    assert.equal(sanitizeTag('x'.repeat(200)).length, 128);
  });

  void it('names repositories and workflows from the URL', () => {
    assert.equal(repositoryName('git@github.com:team/app.git'), 'app');
    assert.equal(repositoryName('/srv/git/Tools.git/'), 'tools');
    assert.equal(buildChainWorkflowId({ repoUrl: 'https://x.test/a.git', ref: 'refs/heads/main', commit: COMMIT }), `build:https://x.test/a.git@${COMMIT}`);
  });

  void it('refuses unknown template variables and invalid patterns when the config loads', () => {
    const bad = buildConfigSchema.safeParse({ rules: [{ ref: '^refs/heads/(?<b>.+)$', tags: ['${branch}'] }] });
    assert.equal(bad.success, false);
    assert.match(bad.error?.issues[0]?.message ?? '', /unknown variable \$\{branch\}/);
    assert.equal(buildConfigSchema.safeParse({ rules: [{ ref: '([', tags: ['x'] }] }).success, false);
    assert.equal(buildConfigSchema.safeParse({ gitSources: [{ name: 'gh', format: 'github', secret: 'short' }] }).success, false);
  });

  void it('validates build requests with clear messages', () => {
    const base = { repoUrl: 'https://git.example/a.git', ref: 'main', registry: 's', repository: 'a/b', source: 'cli' };
    assert.equal(parseBuildRequest(base).dockerfile, 'Dockerfile');
    for (const [change, message] of [
      [{ repoUrl: 'https://tok@git.example/a.git' }, /credentials/],
      [{ repoUrl: 'ftp://x/y' }, /a Git URL/],
      [{ dockerfile: '../etc/passwd' }, /inside the repository/],
      [{ commit: 'abc' }, /commit id/],
      [{ repository: 'Bad Repo' }, /repository/],
    ] as const) {
      assert.throws(
        () => parseBuildRequest({ ...base, ...change }),
        (e: unknown) => ChainError.is(e, 'BAD_INPUT') && message.test(e.message),
      );
    }
    assert.equal(parseBuildRequest({ ...base, repoUrl: 'git@github.com:team/app.git' }).repoUrl, 'git@github.com:team/app.git');
  });
});
