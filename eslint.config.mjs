import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** The protocols' transports: they bind a codec to a socket and to the request runtime. */
const TRANSPORTS = [
  'src/scgi/connection.ts',
  'src/fastcgi/connection.ts',
  'src/fastcgi/request.ts',
  'src/http/**',
];

/** Where each folder of src/ sits; an import is checked against the folder it reaches. */
const FOLDERS = {
  common: /(^|\/)(common\/|errors$)/,
  settings: /(^|\/)settings\//,
  codecs: /(^|\/)(scgi|fastcgi)\//,
  gateway: /(^|\/)gateway\//,
  client: /(^|\/)client\//,
  runtime: /(^|\/)runtime\//,
  'app side': /(^|\/)(adapters|middleware)\//,
  transports: /(^|\/)(http\/|scgi\/connection$|fastcgi\/(connection|request)$)/,
  status: /(^|\/)status\//,
  process: /(^|\/)process\//,
  commands: /(^|\/)(commands\/|bridge\/|cli$|index$)/,
};

/**
 * One no-restricted-imports block per layer: every relative import of a folder the layer does not
 * sit above is an error; its own folder and Node's built-ins are always allowed.
 */
function layers(specs) {
  return specs.map(({ name, files, ignores, above, paths = [] }) => ({
    files,
    ...(ignores === undefined ? {} : { ignores }),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths,
          patterns: Object.entries(FOLDERS)
            .filter(([folder]) => folder !== name && !above.includes(folder))
            .map(([folder, regex]) => ({
              regex: `^\\.{1,2}\\/.*${regex.source.replace(/^\(\^\|\\\/\)/, '')}`,
              message: `${name} sits below ${folder}: see docs/architecture.md`,
            })),
        },
      ],
    },
  }));
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // The layers, lowest first (docs/architecture.md): common and the error tree; the settings table;
  // the pure codecs, the gateway contract and the client; the request runtime; the app-side
  // adapters and middleware; each protocol's transport; the status document; the process; the
  // commands. A layer imports only from those below it.
  ...layers([
    { name: 'common', files: ['src/common/**', 'src/errors.ts'], above: [] },
    { name: 'settings', files: ['src/settings/**'], above: ['common'] },
    {
      name: 'codecs',
      files: ['src/scgi/**', 'src/fastcgi/**'],
      ignores: TRANSPORTS,
      above: ['common', 'settings'],
      // Pure: bytes in, values out. Sockets appear only in the transports and the client.
      paths: ['node:net', 'net'],
    },
    { name: 'gateway', files: ['src/gateway/**'], above: ['common', 'settings'], paths: ['node:net', 'net'] },
    { name: 'client', files: ['src/client/**'], above: ['common', 'codecs'] },
    { name: 'runtime', files: ['src/runtime/**'], above: ['common', 'settings', 'codecs', 'gateway'] },
    { name: 'app side', files: ['src/adapters/**', 'src/middleware/**'], above: ['common', 'gateway'] },
    {
      name: 'transports',
      files: TRANSPORTS,
      above: ['common', 'settings', 'codecs', 'gateway', 'runtime'],
    },
    { name: 'status', files: ['src/status/**'], above: ['common', 'gateway', 'runtime'] },
    {
      name: 'process',
      files: ['src/process/**'],
      above: Object.keys(FOLDERS).filter((folder) => folder !== 'commands' && folder !== 'client'),
    },
  ]),
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
