// Lint: the rules that catch what types alone miss. Each says in one line why it is on.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/fakes/**', 'test/rust/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A promise nobody awaits loses its error and races the cleanup that follows.
      '@typescript-eslint/no-floating-promises': 'error',
      // An async callback where a sync one is expected (an event handler, a forEach) drops its rejection.
      '@typescript-eslint/no-misused-promises': 'error',
      // Type-only imports are erased: writing them as such keeps `bro --help` from loading what it only names.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // An await on a non-promise hides a missing call or a wrong type.
      '@typescript-eslint/await-thenable': 'error',
      // `as unknown as` on data read from disk skips its schema: parse, don't cast.
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      // Unused code is a question for every reader; `_`-prefixed names are deliberate.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Off: the validators of single-line strings and TOML keys match control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['**/*.cjs'],
    // CommonJS config files (dependency-cruiser's) run in Node.
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Tests build odd shapes on purpose (a corrupted state, a missing field).
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Every skip says why (test/helpers/skips.ts); no test is left skipped or focused.
      'no-restricted-syntax': [
        'error',
        {
          selector: 'CallExpression[callee.property.name=/^(skipIf|runIf)$/]:not([arguments.0.callee.name=/^skips/])',
          message: 'A suite skips with the reason: describe.skipIf(skipsBecause(reason)), or a skips…() built on it.',
        },
        {
          selector: 'MemberExpression[object.name=/^(it|test|describe)$/][property.name=/^(skip|todo|only)$/]',
          message: 'No test is left skipped or focused: skip with the reason, at run time (ctx.skip(reason)).',
        },
        {
          selector: "CallExpression[callee.property.name='skip'][arguments.length=0]",
          message: 'A test skips with the reason: ctx.skip(reason).',
        },
      ],
    },
  },
);
