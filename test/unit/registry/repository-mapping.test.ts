import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ChainError } from '../../../src/errors/chain-error';
import { mapRepository } from '../../../src/registry/copy';

void it('adds a prefix and rewrites a leading namespace, first rule wins', () => {
  assert.equal(mapRepository('team/app', { repositoryPrefix: '', replace: [] }), 'team/app');
  assert.equal(mapRepository('team/app', { repositoryPrefix: 'mirror/', replace: [] }), 'mirror/team/app');
  const replace = [
    { from: 'team', to: 'eu/team' },
    { from: 'team/app', to: 'never' },
  ];
  assert.equal(mapRepository('team/app', { repositoryPrefix: '', replace }), 'eu/team/app');
  assert.equal(mapRepository('team', { repositoryPrefix: '', replace }), 'eu/team');
  assert.equal(mapRepository('teamster/app', { repositoryPrefix: '', replace }), 'teamster/app', 'whole path components only');
  assert.equal(mapRepository('team/app', { repositoryPrefix: 'dr/', replace: [{ from: 'team/', to: '' }] }), 'dr/app');
});

void it('refuses a mapping that produces an invalid repository name', () => {
  assert.throws(
    () => mapRepository('team/app', { repositoryPrefix: 'Mirror/', replace: [] }),
    (err) => ChainError.is(err, 'CONFIG_INVALID') && /Mirror\/team\/app/.test(err.message),
  );
});
