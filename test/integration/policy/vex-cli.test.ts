import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { testDataDir } from '../../support/services';
import { dchain } from '../signing/support';

void describe('dchain vex check', () => {
  const dir = testDataDir('dchain-vex-cli-');

  void it('accepts the example document and lists its statements', async () => {
    const result = await dchain(['vex', 'check', join(__dirname, '..', '..', '..', 'policy', 'vex', 'example.openvex.json')]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /valid OpenVEX document, 1 statement/);
    assert.match(result.stdout, /CVE-2023-4039 \(DSA-5555-1\): not_affected \(vulnerable_code_not_in_execute_path\)/);
  });

  void it('exits non-zero naming every problem by its field', async () => {
    const file = join(dir, 'bad.cdx.json');
    writeFileSync(
      file,
      JSON.stringify({
        bomFormat: 'CycloneDX',
        specVersion: '1.6',
        vulnerabilities: [
          { id: 'CVE-1', analysis: { state: 'not_affected' }, affects: [{ ref: 'pkg:npm/a@1' }] },
          { id: 'CVE-2', analysis: { state: 'gone' } },
        ],
      }),
    );
    const result = await dchain(['vex', 'check', file]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /invalid CycloneDX VEX document/);
    assert.match(result.stderr, /vulnerabilities\.1\.analysis\.state: /);
  });
});
