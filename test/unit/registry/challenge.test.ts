import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseChallenge } from '../../../src/registry/challenge';

void it('parses the Bearer challenge of the token spec example', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"'), {
    scheme: 'bearer',
    realm: 'https://auth.docker.io/token',
    service: 'registry.docker.io',
    scope: 'repository:samalba/my-app:pull,push',
  });
});

void it('parses insufficient_scope errors, unquoted values, spaces and escapes', () => {
  assert.deepEqual(parseChallenge('bearer realm=http://t/token , service="a \\"b\\"", error="insufficient_scope"'), {
    scheme: 'bearer',
    realm: 'http://t/token',
    service: 'a "b"',
    error: 'insufficient_scope',
  });
});

void it('parses Basic and ignores unusable challenges', () => {
  assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', realm: 'Registry Realm' });
  assert.equal(parseChallenge('Bearer service="x"'), undefined, 'a bearer challenge needs a realm');
  assert.equal(parseChallenge('Negotiate abc'), undefined);
  assert.equal(parseChallenge(undefined), undefined);
});
