// Started as a web server starts a FastCGI app (spec §2.2): the listening socket on fd 0
// (FCGI_LISTENSOCK_FILENO), put there by test/helpers/listen-fd0.py as spawn-fcgi does.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, startDaemon, tempSocketPath } from '../helpers/daemon';
import { fcgiParams, fcgiRequest } from '../helpers/fastcgi';
import { freePort, requireBinary } from '../helpers/frontends';

const LISTEN_FD0 = path.join(REPO_ROOT, 'test', 'helpers', 'listen-fd0.py');
const hasPython = requireBinary('python3');
const maybe = hasPython ? test : test.skip;

/** The launcher that puts `what` on fd 0, then execs sluice. */
function onFd0(what: string): string[] {
  return ['python3', LISTEN_FD0, what, '--'];
}

async function envOf(address: string): Promise<Record<string, string>> {
  const reply = await fcgiRequest(address, { params: fcgiParams('GET', '/env') });
  return JSON.parse(reply.response().body.toString()) as Record<string, string>;
}

describe('--fastcgi fd:0', () => {
  maybe.each([['0'], ['2']])(
    'serves on the listening Unix socket on fd 0 with --workers %s',
    async (workers) => {
      const socket = tempSocketPath('fd0.sock');
      const daemon = await startDaemon(
        'test/fixtures/apps/probe.mjs',
        ['--fastcgi', 'fd:0', '--workers', workers],
        { launcher: onFd0('unix:' + socket) },
      );
      try {
        expect(daemon.addresses.fastcgi).toEqual(['fd:0']);
        for (let i = 0; i < 4; i++)
          expect(await envOf('unix:' + socket)).toMatchObject({ 'sluice.protocol': 'fastcgi' });
      } finally {
        expect(await daemon.stop()).toBe(0);
      }
    },
    30_000,
  );

  maybe(
    'serves on a listening TCP socket on fd 0',
    async () => {
      const port = await freePort();
      const daemon = await startDaemon('test/fixtures/apps/probe.mjs', ['--fastcgi', 'fd:0'], {
        launcher: onFd0(`tcp:127.0.0.1:${port}`),
      });
      try {
        expect(await envOf(`127.0.0.1:${port}`)).toMatchObject({ 'sluice.protocol': 'fastcgi' });
      } finally {
        expect(await daemon.stop()).toBe(0);
      }
    },
    30_000,
  );
});

describe('a listening socket on fd 0 and no listener given', () => {
  maybe.each([['unix'], ['tcp']])(
    'serves FastCGI on a listening %s socket',
    async (kind) => {
      const address =
        kind === 'unix' ? 'unix:' + tempSocketPath('fd0.sock') : `127.0.0.1:${await freePort()}`;
      const daemon = await startDaemon('test/fixtures/apps/probe.mjs', [], {
        launcher: onFd0(kind === 'unix' ? address : 'tcp:' + address),
      });
      try {
        expect(daemon.addresses.fastcgi).toEqual(['fd:0']);
        expect(daemon.logLines()).toContainEqual(
          expect.objectContaining({
            msg: 'listening',
            fdName: 'FCGI_LISTENSOCK_FILENO',
            // Not "fastcgi_pass fd:0": the spawner bound the socket and the front end reaches it there.
            reach: 'inherited socket fd 0: reached where its owner bound it',
          }),
        );
        expect(await envOf(address)).toMatchObject({ 'sluice.protocol': 'fastcgi' });
      } finally {
        expect(await daemon.stop()).toBe(0);
      }
    },
    30_000,
  );

  test('FCGI_WEB_SERVER_ADDRS still refuses other TCP peers', async () => {
    if (!hasPython) return;
    const port = await freePort();
    const daemon = await startDaemon('test/fixtures/apps/probe.mjs', [], {
      launcher: onFd0(`tcp:127.0.0.1:${port}`),
      env: { FCGI_WEB_SERVER_ADDRS: '192.0.2.1' },
    });
    try {
      const refused = fcgiRequest(`127.0.0.1:${port}`, { params: fcgiParams('GET', '/env') }, 3000);
      await expect(refused).rejects.toThrow();
      expect(daemon.logLines()).toContainEqual(expect.objectContaining({ remote: '127.0.0.1', level: 40 }));
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  }, 30_000);
});

/** Starts sluice with no listener and `stdin` as fd 0; resolves with its exit code and stderr. */
function startWithout(stdin: 'ignore' | 'pipe' | string[]): Promise<{ code: number | null; stderr: string }> {
  const command = [
    ...(Array.isArray(stdin) ? stdin : []),
    process.execPath,
    path.join(REPO_ROOT, 'bin', 'sluice'),
    'serve',
    'test/fixtures/apps/probe.mjs',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), {
      cwd: REPO_ROOT,
      stdio: [Array.isArray(stdin) ? 'ignore' : stdin, 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sluice still runs with no listener; stderr: ${stderr}`));
    }, 15_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('anything else on fd 0 keeps the usage error and exit code 2', () => {
  test.each([
    ['/dev/null', 'ignore' as const],
    // A child started with stdio pipes gets a connected Unix socket pair, which sluice never reads.
    ['a connected socket (stdio pipe)', 'pipe' as const],
  ])(
    '%s',
    async (_name, stdin) => {
      const { code, stderr } = await startWithout(stdin);
      expect(code).toBe(2);
      expect(stderr).toContain('give at least one of --scgi, --fastcgi or --http');
    },
    20_000,
  );

  maybe.each([['pipe'], ['devnull'], ['connected']])(
    '%s from the launcher',
    async (what) => {
      const { code, stderr } = await startWithout(onFd0(what));
      expect(code).toBe(2);
      expect(stderr).toContain('give at least one of --scgi, --fastcgi or --http');
    },
    20_000,
  );
});

describe('spawned: one process unless --workers says otherwise', () => {
  maybe.each([
    [[], 0],
    [['--workers', '2'], 2],
  ])(
    'with %j, %d workers',
    async (args, workers) => {
      const socket = tempSocketPath('fd0.sock');
      const daemon = await startDaemon('test/fixtures/apps/probe.mjs', args, {
        launcher: onFd0('unix:' + socket),
      });
      try {
        expect(await envOf('unix:' + socket)).toMatchObject({ 'sluice.protocol': 'fastcgi' });
        const started = daemon.logLines().filter((l) => l.msg === 'worker started');
        expect(started).toHaveLength(workers);
        expect(childrenOf(daemon.pid)).toHaveLength(workers);
      } finally {
        expect(await daemon.stop()).toBe(0);
      }
    },
    30_000,
  );
});

/** The pids of a process's children, from /proc (Linux). */
function childrenOf(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text === '' ? [] : text.split(/\s+/).map(Number);
}
