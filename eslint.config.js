// Typed lint rules over the TypeScript sources; formatting belongs to Prettier (npm run lint runs both).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      // Generated or vendored data, not code we write.
      'test/fixtures/',
      // Scaffold templates are rendered into other projects with their own package.json and tsconfig; their TS is
      // type-checked where a scaffold test builds a generated project with tsc, not in llmops's program.
      'templates/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A leading underscore marks what is unused on purpose: a parameter an override does not need, or a property
      // destructured only to leave it out of the rest (`const { histogram: _h, ...summary } = run`).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // `async` without `await` is deliberate here: an implementation of an async interface (Backend.plan, the test
      // doubles of an engine or a fetch) keeps the signature and turns a throw into a rejection. A promise that is
      // not awaited is still caught, by no-floating-promises and no-misused-promises.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // node:test's test()/describe()/it()/suite() return a promise the runner itself awaits and reports on; a test
      // file calls them for their registration, not their result. Subtests (t.test) still must be awaited.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
    },
  },
  {
    // Plain JavaScript (bin/, scripts/, this file) is outside tsconfig's program: the untyped recommended rules only.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
);
