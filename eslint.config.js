// The linter, as TypeScript projects of this field use it: ESLint's and typescript-eslint's
// recommended rules over the project's own code, for what tsc's strict mode does not check.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/results/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: globals.node } },
  {
    rules: {
      // `const { dropped: _dropped, ...kept } = …` is how a field is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^_', argsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // One destructuring may bind a value that changes beside one that does not.
      'prefer-const': ['error', { destructuring: 'all' }],
    },
  },
);
