// ESLint: typescript-eslint's recommended rules with type information, for faults a type check lets through
// (a promise nobody awaits, an await on something that is not a promise). Formatting is prettier's (.prettierrc.json).
import js from '@eslint/js'
import {defineConfig, globalIgnores} from 'eslint/config'
import tseslint from 'typescript-eslint'

export default defineConfig(
  globalIgnores(['**/dist/', '**/oclif.manifest.json', 'tmp/', '.bench/', 'templates/']),
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {parserOptions: {project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname}},
    rules: {
      // `catch {}` is how the code says a failure does not matter (a best-effort cleanup).
      'no-empty': ['error', {allowEmptyCatch: true}],
      // One import statement per module (`import {type A, b}`), so a module's names are found in one place.
      'no-duplicate-imports': 'error',
      // `_event`: a parameter a callback must take; `{CI: _ci, ...env}`: a key left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', ignoreRestSiblings: true}],
      // An async function without await still turns a throw into a rejection, which callers rely on.
      '@typescript-eslint/require-await': 'off',
      // Rejecting with what a catch caught (of type unknown) passes the original error on.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', {allowThrowingUnknown: true}],
    },
  },
  {
    // Tests and benchmarks read JSON that the CLI printed; typing every field they look at would add nothing.
    files: ['test/**', 'bench/**', 'plugins/*/test/**'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Plain JavaScript (bin/run.js, this file): no type information, Node's globals.
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {globals: {process: 'readonly', URL: 'readonly'}},
  },
  {
    // The tests' plugins are CommonJS packages, the way many oclif plugins are written.
    files: ['test/fixtures/plugins/**/*.js'],
    languageOptions: {sourceType: 'commonjs', globals: {module: 'writable', require: 'readonly', AbortSignal: 'readonly'}},
    rules: {'@typescript-eslint/no-require-imports': 'off'},
  },
)
