import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { pushImage, writeOciImage } from '../../support/images';
import { testDataDir, useRegistry } from '../../support/services';
import { scannerFor } from './scan-support';

const crane = resolve(__dirname, '../../../.tools/bin/crane');
const skip = !existsSync(crane) ? 'needs .tools/bin/crane (npm run setup -- --test)' : false;

void describe('Go binaries in an image', { skip }, () => {
  void it('catalogues the modules `go version -m` reports, with the binary layer and golang purls', async () => {
    const registry = await useRegistry();
    const layout = join(testDataDir(), 'layout');
    await writeOciImage(
      layout,
      {
        layers: [
          [
            { path: 'ko-app', type: 'directory' },
            { path: 'ko-app/crane', content: readFileSync(crane), mode: 0o755 },
          ],
        ],
        user: '65532',
      },
      'v1',
    );
    await pushImage(layout, 'v1', `${registry.host}/go-app:v1`);
    const { packages } = await scannerFor(registry.url).scan('go-app', 'v1');
    const lines = execFileSync('go', ['version', '-m', crane], { encoding: 'utf8' }).split('\n');
    const expected = [
      ...lines.filter((l) => /^\t(mod|dep)\t/.test(l)).map((l) => l.split('\t').slice(2, 4).join('@')),
      `stdlib@${lines[0]!.split(': ')[1]}`,
    ].sort();
    assert.deepEqual(packages.map((p) => `${p.name}@${p.version}`).sort(), expected);
    assert.ok(packages.every((p) => p.ecosystem === 'Go' && p.location === '/ko-app/crane' && p.purl.startsWith('pkg:golang/')));
    // The main module as `go version -m` names it (whichever crane the setup pins).
    const main = lines.find((l) => l.startsWith('\tmod\t'))!.split('\t');
    assert.equal(main[2], 'github.com/google/go-containerregistry');
    assert.ok(packages.some((p) => p.purl === `pkg:golang/${main[2]}@${main[3]}`));
  });
});
