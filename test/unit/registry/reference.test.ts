import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ChainError } from '../../../src/errors/chain-error';
import { cosignTag, fallbackReferrersTag, parseImageReference } from '../../../src/registry';

const D = `sha256:${'a'.repeat(64)}`;

void it('splits registry, repository, tag and digest like the docker CLI', () => {
  assert.deepEqual(parseImageReference('127.0.0.1:5000/team/app:v1'), { registry: '127.0.0.1:5000', repository: 'team/app', tag: 'v1' });
  assert.deepEqual(parseImageReference(`localhost/app@${D}`), { registry: 'localhost', repository: 'app', digest: D });
  assert.deepEqual(parseImageReference(`reg.example.com/a/b/c:1.0@${D}`), { registry: 'reg.example.com', repository: 'a/b/c', tag: '1.0', digest: D });
  assert.deepEqual(parseImageReference('busybox'), { registry: 'docker.io', repository: 'library/busybox' });
  assert.deepEqual(parseImageReference('team/app:latest'), { registry: 'docker.io', repository: 'team/app', tag: 'latest' });
});

void it('refuses malformed references with BAD_INPUT', () => {
  for (const bad of ['', 'Upper/app', 'host:5000/app@sha256:short', 'app:bad tag', 'a//b', 'reg.io/app:-x']) {
    assert.throws(
      () => parseImageReference(bad),
      (err) => ChainError.is(err, 'BAD_INPUT'),
      bad,
    );
  }
});

void it('names cosign and referrers fallback tags', () => {
  assert.equal(cosignTag(D, 'sig'), `sha256-${'a'.repeat(64)}.sig`);
  assert.equal(cosignTag(D, 'att'), `sha256-${'a'.repeat(64)}.att`);
  assert.equal(fallbackReferrersTag(`sha512:${'b'.repeat(128)}`), `sha512-${'b'.repeat(64)}`);
  assert.throws(
    () => cosignTag('latest', 'sbom'),
    (err) => ChainError.is(err, 'BAD_INPUT'),
  );
});
