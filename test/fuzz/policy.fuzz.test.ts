/** Policy files (YAML and JSON): parsing, schema, cross-references, key files; YAML alias bombs. */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe } from 'node:test';
import YAML from 'yaml';
import { loadPolicyFile } from '../../src/policy/policy-file';
import { fc, fuzzTarget, mutatedJson, mutatedText } from './harness';

const POLICY_DIR = join(__dirname, '..', '..', 'policy');
const example = readFileSync(join(POLICY_DIR, 'example.yaml'), 'utf8');
const aliasBomb = [
  'a: &a ["x","x","x","x","x","x","x","x","x"]',
  ...Array.from(
    { length: 9 },
    (_, i) =>
      `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`,
  ),
].join('\n');

void describe('fuzz: policy files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-policy-'));
  cpSync(join(POLICY_DIR, 'keys'), join(dir, 'keys'), { recursive: true });
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const load = ([text, ext]: [string, string]) => {
    const file = join(dir, `p${n++ % 8}.${ext}`);
    writeFileSync(file, text);
    return loadPolicyFile(file);
  };
  fuzzTarget(
    'policy',
    fc.oneof(
      fc.tuple(mutatedText([example, aliasBomb]), fc.constant('yaml')),
      fc.tuple(mutatedJson([YAML.parse(example) as unknown]), fc.constantFrom('json', 'yaml')),
    ),
    load,
    {
      runs: 60,
      regressions: [
        [aliasBomb, 'yaml'],
        // A flow mapping nested 50,000 levels took the YAML parser over 5 s before it gave up (found at 100× the CI count).
        [`${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`, 'yaml'],
      ],
    },
  );
});
