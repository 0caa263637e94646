import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseGitPush } from '../../../src/source-build/git-webhook/payloads';
import { hmacHex, verifyGitDelivery } from '../../../src/source-build/git-webhook/verify';
import { ChainError } from '../../../src/errors/chain-error';

const SECRET = 'webhook-secret-0123456789';
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const body = (v: unknown) => Buffer.from(JSON.stringify(v));

void describe('Git push payloads', () => {
  void it('reads a GitHub push, preferring head_commit (the commit of an annotated tag)', () => {
    const p = parseGitPush(
      'github',
      'gh',
      { 'x-github-event': 'push', 'x-github-delivery': 'd-1' },
      body({ ref: 'refs/tags/v1', after: A, head_commit: { id: B }, repository: { clone_url: 'https://github.com/o/r.git' }, pusher: { name: 'octo' } }),
    );
    assert.deepEqual(p, {
      kind: 'push',
      deliveryId: 'd-1',
      push: { repoUrl: 'https://github.com/o/r.git', ref: 'refs/tags/v1', commit: B, pusher: 'octo', source: 'gh' },
    });
  });

  void it('reads Gitea and GitLab pushes', () => {
    const gitea = parseGitPush(
      'gitea',
      'gt',
      { 'x-gitea-event': 'push' },
      body({ ref: 'refs/heads/main', after: A, repository: { clone_url: 'https://gitea.example/o/r.git' }, pusher: { login: 'gt-user' } }),
    );
    assert.deepEqual(gitea.kind === 'push' && gitea.push, {
      repoUrl: 'https://gitea.example/o/r.git',
      ref: 'refs/heads/main',
      commit: A,
      pusher: 'gt-user',
      source: 'gt',
    });
    const gitlab = parseGitPush(
      'gitlab',
      'gl',
      { 'x-gitlab-event': 'Tag Push Hook' },
      body({
        object_kind: 'tag_push',
        ref: 'refs/tags/v2',
        after: A,
        checkout_sha: B,
        user_username: 'gl',
        project: { git_http_url: 'https://gitlab.example/g/p.git' },
      }),
    );
    assert.deepEqual(gitlab.kind === 'push' && gitlab.push, {
      repoUrl: 'https://gitlab.example/g/p.git',
      ref: 'refs/tags/v2',
      commit: B,
      pusher: 'gl',
      source: 'gl',
    });
  });

  void it('ignores other events and deleted refs; refuses malformed pushes', () => {
    assert.equal(parseGitPush('github', 'gh', { 'x-github-event': 'ping' }, body({})).kind, 'ignored');
    assert.equal(parseGitPush('gitlab', 'gl', { 'x-gitlab-event': 'Merge Request Hook' }, body({})).kind, 'ignored');
    assert.equal(
      parseGitPush(
        'github',
        'gh',
        { 'x-github-event': 'push' },
        body({ ref: 'refs/heads/x', after: '0'.repeat(40), deleted: true, repository: { clone_url: 'https://g/r.git' } }),
      ).kind,
      'ignored',
    );
    assert.throws(
      () => parseGitPush('github', 'gh', { 'x-github-event': 'push' }, body({ ref: 'refs/heads/x', after: A })),
      (e: unknown) => ChainError.is(e, 'BAD_INPUT') && /repository/.test(e.message),
    );
    assert.throws(
      () => parseGitPush('gitea', 'gt', { 'x-gitea-event': 'push' }, body({ ref: 'main', after: A, repository: { clone_url: 'https://g/r.git' } })),
      /full ref/,
    );
    assert.throws(() => parseGitPush('github', 'gh', { 'x-github-event': 'push' }, Buffer.from('nope')), /not JSON/);
  });
});

void describe('Git webhook signatures', () => {
  const payload = body({ ref: 'refs/heads/main' });
  // The example of GitHub's documentation "Validating webhook deliveries".
  void it("matches GitHub's published test vector", () => {
    assert.equal(hmacHex("It's a Secret to Everybody", Buffer.from('Hello, World!')), '757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17');
  });

  void it('checks X-Hub-Signature-256, X-Gitea-Signature and X-Gitlab-Token', () => {
    verifyGitDelivery('github', { 'x-hub-signature-256': `sha256=${hmacHex(SECRET, payload)}` }, payload, SECRET);
    verifyGitDelivery('gitea', { 'x-gitea-signature': hmacHex(SECRET, payload) }, payload, SECRET);
    verifyGitDelivery('gitlab', { 'x-gitlab-token': SECRET }, payload, SECRET);
    const unauthorized = (e: unknown) => ChainError.is(e, 'UNAUTHORIZED');
    assert.throws(() => verifyGitDelivery('github', { 'x-hub-signature-256': `sha256=${hmacHex(SECRET, body({ ref: 'x' }))}` }, payload, SECRET), unauthorized);
    assert.throws(() => verifyGitDelivery('github', {}, payload, SECRET), /missing X-Hub-Signature-256/);
    assert.throws(() => verifyGitDelivery('github', { 'x-gitea-signature': hmacHex(SECRET, payload) }, payload, SECRET), unauthorized);
    assert.throws(() => verifyGitDelivery('gitlab', { 'x-gitlab-token': 'other' }, payload, SECRET), unauthorized);
    assert.throws(() => verifyGitDelivery('gitlab', {}, payload, SECRET), /missing X-Gitlab-Token/);
  });
});
