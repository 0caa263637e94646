import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { compareApk, compareDeb, compareGo, compareMaven, comparePep440, compareRpm, compareSemver } from '../../../src/scan/versions';
import { ChainError } from '../../../src/errors/chain-error';

/** Each list is strictly ascending: every earlier entry must sort before every later one. */
function assertAscending(cmp: (a: string, b: string) => number, list: string[]): void {
  for (let i = 0; i < list.length; i++) {
    for (let j = 0; j < list.length; j++) {
      const expected = Math.sign(i - j);
      assert.equal(Math.sign(cmp(list[i]!, list[j]!)), expected, `${list[i]} vs ${list[j]}: expected ${expected}`);
    }
  }
}

void describe('dpkg versions (deb-version(7))', () => {
  void it('orders tildes before everything, even the end of the part', () => {
    // The example of deb-version(7): ~~ < ~~a < ~ < (empty) < a
    assertAscending(compareDeb, ['1.0~~', '1.0~~a', '1.0~', '1.0', '1.0a']);
  });
  void it('compares epochs numerically before anything else', () => {
    assertAscending(compareDeb, ['9.9-9', '1:0.1', '1:1.0', '2:0.0.1', '10:0']);
  });
  void it('compares digit runs numerically and letters before non-letters', () => {
    assertAscending(compareDeb, ['1.2a', '1.2+', '1.2.', '1.2.3', '1.2.10', '1.10']);
    assert.equal(compareDeb('1.002', '1.2'), 0);
  });
  void it('treats a missing revision as revision 0 and orders revisions', () => {
    assert.equal(compareDeb('1.0', '1.0-0'), 0);
    assertAscending(compareDeb, ['2.36-9', '2.36-9+deb12u4', '2.36-9+deb12u7', '2.36-10', '2.36.0-1']);
    assert.equal(compareDeb('1:2.3-4-5', '1:2.3-4-5'), 0);
  });
  void it('rejects malformed versions with a clear error', () => {
    assert.throws(
      () => compareDeb('a:1.0', '1.0'),
      (e: unknown) => ChainError.is(e, 'BAD_INPUT') && /epoch/.test(e.message),
    );
    assert.throws(() => compareDeb('1.0-', '1.0'), ChainError);
  });
  void it('agrees with dpkg --compare-versions on every pair', { skip: spawnSync('dpkg', ['--version']).status !== 0 }, () => {
    const versions = [
      '0',
      '1.0~rc1',
      '1.0~rc1-1',
      '1.0',
      '1.0-1',
      '1.0-1~bpo1',
      '1.0+dfsg-1',
      '1.0.1',
      '1:0.9',
      '1.0a',
      '1.0-1ubuntu0.1',
      '2.36-9+deb12u7',
      '7.88.1-10+deb12u5',
      '3.0.11-1~deb12u2',
      '1.0-1.1',
      '1.0-1+b1',
    ];
    for (const a of versions) {
      for (const b of versions) {
        const ours = compareDeb(a, b);
        const lt = spawnSync('dpkg', ['--compare-versions', a, 'lt', b]).status === 0;
        const eq = spawnSync('dpkg', ['--compare-versions', a, 'eq', b]).status === 0;
        assert.equal(ours, lt ? -1 : eq ? 0 : 1, `${a} vs ${b}`);
      }
    }
  });
});

void describe('apk versions', () => {
  void it('orders pre-release suffixes before and post-release suffixes after the release', () => {
    assertAscending(compareApk, [
      '1.2_alpha',
      '1.2_alpha1',
      '1.2_beta2',
      '1.2_pre1',
      '1.2_rc1',
      '1.2',
      '1.2_cvs',
      '1.2_svn',
      '1.2_git',
      '1.2_hg',
      '1.2_p1',
      '1.2_p2',
    ]);
  });
  void it('orders letters, more components and revisions after the bare version', () => {
    assertAscending(compareApk, ['1.2', '1.2-r1', '1.2-r10', '1.2a', '1.2b-r0', '1.2.1', '1.10']);
    assertAscending(compareApk, ['3.0.12-r4', '3.0.13-r0', '3.3.1-r0', '3.3.2-r0']);
  });
  void it('treats a leading zero as a fraction', () => {
    assertAscending(compareApk, ['1.001', '1.01', '1.1']);
  });
  void it('rejects malformed versions', () => {
    assert.throws(() => compareApk('1.2_foo', '1.2'), ChainError);
    assert.throws(() => compareApk('abc', '1.2'), ChainError);
  });
});

void describe('rpm EVR', () => {
  void it('compares epoch, then version, then release', () => {
    assertAscending(compareRpm, ['1.0-1', '1.0-2', '1.0.1-1', '1.1-1', '1:0.1-1']);
  });
  void it('sorts ~ before and ^ after the end, numbers after letters', () => {
    assertAscending(compareRpm, ['1.0~rc1', '1.0', '1.0^git1', '1.0a', '1.0.1']);
    assert.equal(compareRpm('1.0', '1_0'), 0);
    assert.equal(compareRpm('1.01', '1.1'), 0);
    assert.equal(Math.sign(compareRpm('1.0a', '1.0.1')), -1);
    assert.equal(Math.sign(compareRpm('2.0', '2a')), 1);
  });
});

void describe('npm semver', () => {
  void it('orders pre-releases by identifier per SemVer 2.0 §11', () => {
    assertAscending(compareSemver, ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0']);
  });
  void it('ignores build metadata and rejects garbage', () => {
    assert.equal(compareSemver('1.0.0+build.1', '1.0.0+build.2'), 0);
    assert.throws(() => compareSemver('not-a-version', '1.0.0'), ChainError);
  });
});

void describe('Go versions', () => {
  void it('orders pseudo-versions, pre-releases and +incompatible', () => {
    assertAscending(compareGo, ['v0.0.0-20190101000000-abcdefabcdef', 'v0.1.0-rc.1', 'v0.1.0', 'v1.2.3', 'v2.0.0+incompatible', 'v2.1.0']);
  });
  void it('orders stdlib toolchain versions', () => {
    assertAscending(compareGo, ['go1.20', 'go1.21rc2', 'go1.21.0', 'go1.21.5', 'go1.22.1']);
  });
});

void describe('PEP 440', () => {
  const ordered = ['1.0.dev1', '1.0a1', '1.0a2.dev1', '1.0a2', '1.0b1', '1.0rc1', '1.0', '1.0+local.1', '1.0.post1.dev1', '1.0.post1', '1.1', '1!0.5'];
  void it('orders dev < pre < release < post and epochs first', () => {
    assertAscending(comparePep440, ordered);
    assert.equal(comparePep440('1.0', '1.0.0'), 0);
    assert.equal(comparePep440('1.0RC1', '1.0rc1'), 0);
  });
  void it('agrees with python packaging', { skip: spawnSync('python3', ['-c', 'import packaging']).status !== 0 }, () => {
    const script =
      'import sys, json; from packaging.version import Version as V; vs=json.loads(sys.argv[1]); print(json.dumps([[(V(a)>V(b))-(V(a)<V(b)) for b in vs] for a in vs]))';
    const expected = JSON.parse(execFileSync('python3', ['-c', script, JSON.stringify(ordered)], { encoding: 'utf8' })) as number[][];
    ordered.forEach((a, i) => ordered.forEach((b, j) => assert.equal(comparePep440(a, b), expected[i]![j], `${a} vs ${b}`)));
  });
  void it('rejects invalid versions', () => {
    assert.throws(() => comparePep440('1.0-foo-bar', '1.0'), ChainError);
  });
});

void describe('Maven versions', () => {
  void it('orders qualifiers and ignores trailing zeros', () => {
    assertAscending(compareMaven, ['1.0-alpha-1', '1.0-beta-1', '1.0-milestone-1', '1.0-rc-1', '1.0-SNAPSHOT', '1.0', '1.0-sp-1', '1.0.1', '1.1']);
    assert.equal(compareMaven('1.0', '1.0.0'), 0);
    assert.equal(compareMaven('1.0.Final', '1.0'), 0);
  });
});
