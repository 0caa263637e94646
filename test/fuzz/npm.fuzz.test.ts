/** package-lock.json v1 (nested dependencies), v2 and v3 (packages map), and installed package.json files. */
import { describe } from 'node:test';
import { catalogFiles, wellFormed } from './catalog-support';
import { fuzzTarget, mutatedJson } from './harness';

const V1 = {
  name: 'app',
  version: '1.0.0',
  lockfileVersion: 1,
  dependencies: { lodash: { version: '4.17.20', dependencies: { minimist: { version: '1.2.5' } } }, '@scope/x': { version: '2.0.0' } },
};
const V2 = {
  ...V1,
  lockfileVersion: 2,
  packages: {
    '': { name: 'app', version: '1.0.0' },
    'node_modules/lodash': { version: '4.17.20' },
    'node_modules/a/node_modules/b': { version: '1.0.0' },
    'packages/linked': { link: true },
  },
};
const V3 = { name: 'app', version: '1.0.0', lockfileVersion: 3, packages: V2.packages };
const INSTALLED = { name: 'lodash', version: '4.17.20', license: 'MIT' };

/** A v1 lockfile `depth` levels deep, as text (JSON.stringify itself cannot nest that far). */
const deepV1 = (depth: number) =>
  `{"lockfileVersion":1,"dependencies":{"a":${'{"version":"1.0.0","dependencies":{"x":'.repeat(depth)}{"version":"1.0.0"}${'}}'.repeat(depth)}}}`;

void describe('fuzz: npm cataloger', () => {
  fuzzTarget(
    'npm',
    mutatedJson([V1, V2, V3, INSTALLED]),
    (text) => catalogFiles({ '/app/package-lock.json': text, '/app/node_modules/lodash/package.json': text }),
    {
      runs: 100,
      check: wellFormed,
      regressions: [
        // A v1 tree 1,000 levels deep overflowed the stack in the recursive lockfile schema.
        deepV1(1000),
        deepV1(20_000),
      ],
    },
  );
});
