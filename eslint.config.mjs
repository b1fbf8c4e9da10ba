// ESLint flat config: typescript-eslint's recommended rules, run with type information so that the promise rules can
// see which calls return promises. This code starts many fire-and-forget promises (probes, replays, flushes, closes):
// each deliberate one is marked `void`, every other one is awaited or handled.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  {
    files: ['apps/**/*.ts', 'libs/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // the same convention as tsc's noUnusedParameters: a leading `_` marks a name an interface or a destructuring
      // needs but the code does not read (`(_req, res) =>`, `const { statement_id: _id, ...outcome } = r`)
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Tests read influxd's and the proxy's JSON answers by path (`body.results[0].series[0].values`) and let the
    // assertion say what must be there; `any` is the deliberate type of such an untyped answer. Product code keeps the rule.
    files: ['test/**/*.ts', '**/*.spec.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
