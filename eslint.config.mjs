// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';
import { dirname, relative, resolve, sep } from 'node:path';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

/**
 * Each domain folder (src/<folder>) is used from outside through its index.ts only, so its public
 * surface is one file. Tests may reach inside (they mirror the source tree); workflows import the
 * contract's files (src/chain/names.ts…) so the workflow bundle holds no zod.
 * A folder may name a second, narrower surface for a command whose start-up would pay for the rest of
 * index.ts: src/scan/image-scan.ts for `dchain scan` (without the fleet and VEX modules' schemas), and
 * src/security/deferred-ca.ts for the TLS clients a scan opens (the index's servers and codec are not a scan's, and
 * node's TLS module cannot be in the scan's startup snapshot).
 */
const NARROW_SURFACES = { scan: ['image-scan'], security: ['deferred-ca'] };
const surfaces = {
  rules: {
    'folder-surface': {
      meta: { type: 'problem', schema: [], messages: { deep: "import src/{{folder}} through its index.ts ('{{suggest}}'), not its file {{inner}}" } },
      create(context) {
        const root = context.cwd;
        const from = relative(root, context.filename).split(sep);
        const check = (node) => {
          const spec = node?.value;
          if (typeof spec !== 'string' || !spec.startsWith('.')) return;
          const target = relative(root, resolve(dirname(context.filename), spec)).split(sep);
          if (target[0] !== 'src' || target.length < 3) return;
          const folder = target[1];
          if (from[0] === 'src' && from[1] === folder) return;
          if (target.length === 3 && (target[2] === 'index' || NARROW_SURFACES[folder]?.includes(target[2]))) return;
          if (from[0] === 'workflows' && folder === 'chain') return;
          const suggest = relative(dirname(context.filename), resolve(root, 'src', folder)) || '.';
          context.report({
            node,
            messageId: 'deep',
            data: { folder, inner: target.slice(2).join('/'), suggest: suggest.startsWith('.') ? suggest : `./${suggest}` },
          });
        };
        return {
          ImportDeclaration: (n) => check(n.source),
          ExportNamedDeclaration: (n) => n.source && check(n.source),
          ExportAllDeclaration: (n) => check(n.source),
          ImportExpression: (n) => n.source.type === 'Literal' && check(n.source),
        };
      },
    },
  },
};

const CONTRACT = 'a name of the chain contract: import it from src/chain';
/** Selectors of literals that only src/chain may spell. */
const contractLiterals = [
  // Workflow types, signal, schedule and failure type names: distinctive, refused wherever they appear.
  {
    selector: 'Literal[value=/^(deliveryChain|deliverTags|addTags|breakGlass|PolicyDenied|ScanLimitExceeded|dchain-rescan|dchain-reconcile)$/]',
    message: CONTRACT,
  },
  // Generic words (status, progress, rescan, reconcile) only where Temporal takes a name.
  { selector: 'CallExpression[callee.name=/^define(Signal|Query|Update)$/] > Literal', message: CONTRACT },
  {
    selector: 'CallExpression[callee.property.name=/^(query|signal|executeUpdate|startUpdate|signalWithStart|start|execute)$/] > Literal:first-child',
    message: CONTRACT,
  },
  { selector: 'Property[key.name=/^(workflowType|signal|scheduleId)$/] > Literal', message: CONTRACT },
  // Failure types are created only through FAILURE_TYPES / failureType().
  { selector: "CallExpression[callee.object.name='ApplicationFailure'] Property[key.name='type'] > Literal", message: CONTRACT },
  // Workflow ids: chain:…, tags:…, build:… are made by chainWorkflowId() and its siblings.
  { selector: 'TemplateLiteral > TemplateElement:first-child[value.raw=/^(chain|tags|build):$/]', message: CONTRACT },
  // (Not the control API's actions, `chain:Read`, `chain:List*`: PascalCase or a wildcard after the colon.)
  { selector: 'Literal[value=/^(chain|tags|build):(?![A-Z*])\\S/]', message: CONTRACT },
];
/** Where Temporal failures are branched on, their types are compared only with the contract's names. */
const failureTypeComparisons = [{ selector: "BinaryExpression[operator=/^[!=]==?$/][left.property.name='type'] > Literal", message: CONTRACT }];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.data/**', '.tools/**', 'bin/**', 'eslint.config.mjs'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/it return promises the runner itself awaits.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // Workflow code is replayed: it must stay deterministic and free of I/O.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflows must not use Node built-ins (not deterministic).' })),
          patterns: [
            {
              group: ['../src/**', '!../src/chain', '!../src/chain/**', '../workers/**', '../cli/**'],
              message: 'Workflows import activity types and the chain contract (src/chain) only.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'fetch', message: 'Do I/O in activities.' },
        { name: 'process', message: 'Workflows must not read the environment.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Math.random is replaced in workflows; use uuid4() or pass values in.' },
      ],
    },
  },
  {
    // The domain stays free of Temporal so it can be used from the CLI and tests directly.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@temporalio/*'], message: 'Domain code has no Temporal imports.' }] }],
    },
  },
  {
    files: ['src/**/*.ts', 'workers/**/*.ts', 'workflows/**/*.ts', 'activities/**/*.ts', 'cli/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    plugins: { surfaces },
    rules: { 'surfaces/folder-surface': 'error' },
  },
  {
    // The CLI talks to the services through workers/temporal and workers/process, never through a
    // process's entry point (workers/<process>.ts) or the launchers of local services (workers/local).
    files: ['cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/workers/*', '!**/workers/temporal', '!**/workers/process'],
              message: 'The CLI does not import process entry points (workers/<process>.ts).',
            },
            { group: ['**/workers/local/**'], message: 'The CLI does not import the launchers of local services.' },
          ],
        },
      ],
    },
  },
  {
    // One rule for configuration: every section's schema lives in src/config (src/config/sections/<owner>.ts),
    // composed in src/config/schema.ts; it depends on nothing of the domain but src/errors, and the domain
    // imports its section's type from there (never the other way up).
    files: ['src/config/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@temporalio/*'], message: 'Domain code has no Temporal imports.' },
            { group: ['../*', '!../errors', '!../errors/*'], message: 'Configuration imports nothing of the domain but src/errors.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/config/sections/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@temporalio/*'], message: 'Domain code has no Temporal imports.' },
            { group: ['../../*', '!../../errors', '!../../errors/*'], message: 'Configuration imports nothing of the domain but src/errors.' },
          ],
        },
      ],
    },
  },
  {
    // The chain's contract (src/chain) names workflow types, ids, signals, queries, schedules and failure
    // types; everything else names them from there, so renaming one is one change the compiler follows.
    files: ['src/**/*.ts', 'workers/**/*.ts', 'workflows/**/*.ts', 'activities/**/*.ts', 'cli/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    ignores: ['src/chain/**'],
    rules: {
      'no-restricted-syntax': ['error', ...contractLiterals],
    },
  },
  {
    files: ['workers/**/*.ts', 'workflows/**/*.ts', 'activities/**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', ...contractLiterals, ...failureTypeComparisons],
    },
  },
);
