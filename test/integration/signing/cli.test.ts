import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type VerificationReport } from '../../../src/signing';
import { testDataDir } from '../../support/services';
import { COSIGN_REGISTRY_FLAGS, cosignPath, dchain, registryWithImage, runTool, writeKeyPair } from './support';
import { COSIGN_KEY_SIGN_FLAGS } from '../../support/cosign';

void describe('dchain keygen and dchain verify', async () => {
  const dir = testDataDir('dchain-sign-cli-');
  const image = await registryWithImage(dir);
  const prefix = join(dir, 'team');

  void it('keygen writes a cosign key pair (private file owner-only) that cosign signs with', async () => {
    assert.match((await dchain(['keygen', '--output-key-prefix', prefix])).stderr, /set DCHAIN_SIGNING_KEY_PASSWORD/);
    const made = await dchain(['keygen', '--output-key-prefix', prefix], { DCHAIN_SIGNING_KEY_PASSWORD: 'team-pw' });
    assert.equal(made.code, 0, made.stderr);
    assert.equal(statSync(`${prefix}.key`).mode & 0o777, 0o600);
    assert.match(readFileSync(`${prefix}.key`, 'utf8'), /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----/);
    const again = await dchain(['keygen', '--output-key-prefix', prefix], { DCHAIN_SIGNING_KEY_PASSWORD: 'x' });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
    const signed = await runTool(cosignPath(), ['sign', '--key', `${prefix}.key`, ...COSIGN_KEY_SIGN_FLAGS, '-y', ...COSIGN_REGISTRY_FLAGS, image.ref], {
      COSIGN_PASSWORD: 'team-pw',
    });
    assert.equal(signed.code, 0, signed.stderr);
  });

  void it('verify reports the cosign signature by tag or digest, and fails (exit 1) for other keys or missing attestations', async () => {
    const byTag = await dchain(['verify', '--plain-http', '--json', '--key', `${prefix}.pub`, `${image.host}/${image.repo}:v1`]);
    assert.equal(byTag.code, 0, byTag.stderr);
    const report = JSON.parse(byTag.stdout) as VerificationReport;
    assert.equal(report.digest, image.digest);
    assert.equal(report.signedBy.length, 1);
    const table = await dchain(['verify', '--plain-http', '--key', `${prefix}.pub`, image.ref]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /signature\s+│ valid\s+│ .*team\.pub/);
    const stranger = await writeKeyPair(dir, 'stranger');
    const refused = await dchain(['verify', '--plain-http', '--key', stranger.pubPath, image.ref]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /VERIFICATION_FAILED/);
    const noSbom = await dchain(['verify', '--plain-http', '--key', `${prefix}.pub`, '--type', 'https://cyclonedx.org/bom', image.ref]);
    assert.equal(noSbom.code, 1);
    assert.match(noSbom.stderr, /no valid attestation of type https:\/\/cyclonedx\.org\/bom/);
    const badKey = await dchain(['verify', '--plain-http', '--key', join(dir, 'absent.pub'), image.ref]);
    assert.match(badKey.stderr, /cannot read public key .*absent\.pub: ENOENT/);
  });
});
