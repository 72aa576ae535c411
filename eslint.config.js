// Lint = the import arrows the code must never have (STYLE.md §1), a cycle check, and a few
// rules that catch real mistakes. Imports that would break a layer are errors, not warnings.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

/** A module specifier regex for packages and node built-ins, with their subpaths (`fs/promises`). */
const specifier = (names) => `^(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})(/.*)?$`;

const node = (...names) => names.flatMap((n) => [n, `node:${n}`]);
const UI_AND_IO_PACKAGES = ['chalk', 'ora', 'execa', 'fs-extra', 'proper-lockfile'];
const FS_AND_PROCESSES = node('fs', 'child_process');
const NETWORK = node('http', 'https', 'net');

/**
 * Bans importing `names` (and their subpaths) from `files`, statically or with `import()`:
 * no-restricted-imports does not see dynamic imports, so a selector covers those.
 */
function ban(files, names, why, extra = {}) {
  const re = specifier(names);
  return {
    files,
    ...extra,
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: re, message: why }] }],
      'no-restricted-syntax': ['error', { selector: `ImportExpression[source.value=/${re.replaceAll('/', '\\/')}/]`, message: why }],
    },
  };
}

/**
 * Which folders of src/ may not import which others. A zone applies to every file under its
 * target, including folders that do not exist yet (src/app). Imports are resolved to files, so
 * `import()`, `export … from` and `import type` count too.
 */
const ZONES = [
  {
    target: './src/engine',
    from: ['./src/cli', './src/app', './src/adapters', './src/lab', './src/deps.ts'],
    message: 'The engine is called by src/app and src/cli and reaches the world only through ports (EngineDeps); adapters are wired in src/deps.ts.',
  },
  {
    target: './src/contractors',
    from: ['./src/adapters', './src/cli', './src/app', './src/lab', './src/engine', './src/deps.ts'],
    message: 'Contractors depend on ports and the model; the engine depends on them, not the other way round.',
  },
  {
    target: './src/ports',
    from: './src',
    except: ['./ports', './model'],
    message: 'Ports are interfaces: they may import only other ports and src/model.',
  },
  {
    target: './src/model',
    from: './src',
    except: ['./model', './errors.ts'],
    message: 'src/model is pure data and pure functions that every layer may import: it imports only src/errors.ts.',
  },
  {
    target: './src/errors.ts',
    from: './src',
    message: 'src/errors.ts is a leaf: every layer imports it.',
  },
  {
    target: './src/adapters',
    from: ['./src/engine', './src/cli', './src/app', './src/lab', './src/contractors', './src/triggers', './src/deps.ts'],
    message: 'Adapters implement ports: they may import ports, src/model and shared leaf modules only.',
  },
  {
    target: './src/triggers',
    from: ['./src/adapters', './src/cli', './src/app', './src/lab', './src/engine', './src/deps.ts', './src/compose.ts'],
    message: 'Triggers keep their state through ports (TriggerStateStore, LockManager); the entry points pass the adapters.',
  },
  {
    target: './src/lab',
    from: './src/engine',
    message: 'The lab stands in for the tools; it never drives the engine.',
  },
  {
    target: './src/definitions',
    from: ['./src/cli', './src/app', './src/engine', './src/adapters', './src/lab', './src/triggers', './src/contractors'],
    message: 'Definitions (load, validate, expressions) sit below the engine, triggers and contractors.',
  },
  {
    target: './src/app',
    from: ['./src/cli', './src/adapters', './src/lab'],
    message: 'The application layer is used by the entry points (src/cli) and gets real or lab ports from the composition root; it never imports the CLI, adapters or the lab.',
  },
  {
    target: ['./src/!(cli)/**', './src/!(compose|deps).ts'],
    from: ['./src/compose.ts', './src/deps.ts'],
    message: 'src/compose.ts and src/deps.ts are the composition root: only entry points (src/cli) import them.',
  },
  {
    target: ['./src/!(cli)/**', './src/*.ts'],
    from: './src/cli',
    message: 'Only src/cli imports src/cli.',
  },
];

/** Loads operator action files at startup (like src/definitions/repository.ts); not an action. */
const CATALOGUE_LOADERS_USING_FS = ['src/contractors/operator/load-operator-files.ts'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coordination/**', 'bench/**', 'scripts/**', 'bin/**'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    plugins: { 'import-x': importX },
    settings: {
      // Without these, import-x does not parse .ts files it follows, and no-cycle finds nothing.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      // A zone or cycle check silently passes an import it cannot resolve, so an unresolvable
      // relative import is an error of its own.
      'import-x/no-unresolved': ['error', { ignore: ['^[^.]'] }],
      // `_name` marks a binding kept on purpose (a rest sibling, a required parameter).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // Off: flags the house pattern `let x = fallback; try { x = … } catch { x = fallback }`
      // (7 places, none a bug).
      'no-useless-assignment': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: ZONES }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  ban(['src/engine/**/*.ts'], [...UI_AND_IO_PACKAGES, ...FS_AND_PROCESSES, ...NETWORK], 'The engine does no I/O and no output of its own: use a port from EngineDeps (emit for output).'),
  ban(['src/contractors/**/*.ts'], ['execa', 'fs-extra', 'proper-lockfile', ...FS_AND_PROCESSES], 'Contractors run tools through the ProcessRunner port and keep files through the runtime.'),
  ban(CATALOGUE_LOADERS_USING_FS, ['execa', 'fs-extra', 'proper-lockfile', ...node('child_process')], 'Contractors run tools through the ProcessRunner port.'),
  ban(['src/ports/**/*.ts', 'src/model/**/*.ts'], [...UI_AND_IO_PACKAGES, ...FS_AND_PROCESSES, ...NETWORK, ...node('os')], 'Ports and the model are pure: no I/O modules.'),
);
