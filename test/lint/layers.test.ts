// The layering rule of eslint.config.mjs still catches an import from a higher layer.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

// ESLint loads its config with a dynamic import, which jest's VM does not allow: lint in a child.
const LINT = `
const { ESLint } = require('eslint');
const cases = JSON.parse(process.argv[1]);
(async () => {
  const eslint = new ESLint({ cwd: process.cwd() });
  const out = [];
  for (const [file, source] of cases) {
    const [result] = await eslint.lintText(source, { filePath: require('node:path').resolve(file) });
    out.push(result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message));
  }
  process.stdout.write(JSON.stringify(out));
})();
`;

const FORBIDDEN: Array<[string, string]> = [
  ['src/scgi/parser.ts', "import { ServerRequest } from '../runtime/request';"],
  ['src/scgi/parser.ts', "import net from 'node:net';"],
  ['src/gateway/driver.ts', "import { Meter } from '../runtime/meter';"],
  ['src/client/connect.ts', "import { createEnviron } from '../gateway/environ';"],
  ['src/runtime/request.ts', "import { serveScgi } from '../scgi/connection';"],
  ['src/runtime/request.ts', "import { Daemon } from '../process/daemon';"],
  ['src/common/address.ts', "import { DEFAULT_LIMITS } from '../runtime/limits';"],
  ['src/fastcgi/request.ts', "import { Daemon } from '../process/daemon';"],
  ['src/process/daemon.ts', "import { runRequest } from '../commands/request';"],
];

const ALLOWED: Array<[string, string]> = [
  ['src/fastcgi/request.ts', "import { ServerRequest } from '../runtime/request';"],
  ['src/runtime/request.ts', "import { runApp } from '../gateway/driver';"],
  ['src/client/fastcgi-client.ts', "import { ReplyParser } from '../fastcgi/reply-parser';"],
  ['src/process/daemon.ts', "import { serveScgi } from '../scgi/connection';"],
];

let messages: string[][];

beforeAll(() => {
  const output = execFileSync(process.execPath, ['-e', LINT, JSON.stringify([...FORBIDDEN, ...ALLOWED])], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  messages = JSON.parse(output) as string[][];
}, 60_000);

test.each(FORBIDDEN.map((row, i) => [...row, i] as const))('%s may not say %s', (_file, _source, i) => {
  expect(messages[i]).not.toEqual([]);
});

test.each(ALLOWED.map((row, i) => [...row, FORBIDDEN.length + i] as const))(
  '%s may say %s',
  (_file, _source, i) => {
    expect(messages[i]).toEqual([]);
  },
);

/** Every module `from` loads, directly or through others, as paths under src/. */
function importClosure(from: string): string[] {
  const seen = new Set<string>();
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const target = path.resolve(path.dirname(file), spec);
      walk(existsSync(`${target}.ts`) ? `${target}.ts` : path.join(target, 'index.ts'));
    }
  };
  walk(path.join(ROOT, from));
  return [...seen].map((file) => path.relative(path.join(ROOT, 'src'), file));
}

test('sluice/client loads no server code, not even through the codecs', () => {
  const server = importClosure('src/client/index.ts').filter(
    (file) => !/^(client|common|scgi|fastcgi)\//.test(file) && file !== 'errors.ts',
  );
  expect(server).toEqual([]);
  // The codecs it loads are the pure ones: the transports would bring the runtime with them.
  expect(importClosure('src/client/index.ts')).not.toContain('fastcgi/connection.ts');
});
