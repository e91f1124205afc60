// The sluice CLI as a user runs it: help, usage errors and their exit codes, app loading, sockets, signals.
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  constants as fsConstants,
  existsSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, SLUICE_BIN, startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { until } from '../helpers/fastcgi';
import { request } from '../helpers/http';
import { requestVariables, scgiRequest } from '../helpers/scgi';

function sluice(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [SLUICE_BIN, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('help and usage', () => {
  test('sluice --help explains the commands with examples', () => {
    const result = sluice('--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('serve');
    expect(result.stdout).toContain('Examples:');
  });

  test('sluice serve --help documents every option and the signals', () => {
    const result = sluice('serve', '--help');
    expect(result.status).toBe(0);
    for (const option of [
      '--scgi',
      '--fastcgi',
      '--http',
      '--mount',
      '--socket-mode',
      '--log-level',
      '--drain-timeout',
      '--interface',
      '--debug',
    ]) {
      expect(result.stdout).toContain(option);
    }
    expect(result.stdout).toContain('SIGTERM');
  });

  test.each([
    ['no listener', ['serve', 'examples/hello.mjs']],
    ['no app', ['serve']],
    ['a bad address', ['serve', 'examples/hello.mjs', '--scgi', 'nowhere']],
    ['a bad socket mode', ['serve', 'examples/hello.mjs', '--scgi', ':0', '--socket-mode', '999']],
    ['an unknown option', ['serve', 'examples/hello.mjs', '--frobnicate']],
    ['a missing module', ['serve', 'test/fixtures/apps/nope.mjs', '--scgi', ':0']],
    ['a missing export', ['serve', 'test/fixtures/apps/hello.ts:nothing', '--scgi', ':0']],
    ['an export that is not a function', ['serve', 'test/fixtures/apps/not-a-function.mjs', '--scgi', ':0']],
    [
      'a named export that is not a function',
      ['serve', 'test/fixtures/apps/not-a-function.mjs:named', '--scgi', ':0'],
    ],
    ['an unknown interface', ['serve', 'examples/hello.mjs', '--scgi', ':0', '--interface', 'cgi']],
    ['an export of two shapes', ['serve', 'test/fixtures/apps/ambiguous.mjs', '--scgi', ':0']],
    [
      'a --static that is not PREFIX=DIR',
      ['serve', 'examples/hello.mjs', '--http', ':0', '--static', 'public'],
    ],
    [
      'a missing --static directory',
      ['serve', 'examples/hello.mjs', '--http', ':0', '--static', '/s=no-such-dir'],
    ],
    [
      'check-config with a missing --static directory',
      ['check-config', 'examples/hello.mjs', '--static', '/s=no-such-dir'],
    ],
  ])('%s is a usage error with exit code 2', (_name, args) => {
    const result = sluice(...args);
    expect(result.status).toBe(2);
    expect(result.stderr.length).toBeGreaterThan(0);
    expect(result.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });
});

describe('app modules', () => {
  test.each([
    ['examples/hello.mjs', 'Hello, world!\n'],
    ['test/fixtures/apps/hello.cjs', 'commonjs says hi to /x\n'],
    ['test/fixtures/apps/hello.ts:handler', 'typescript says hi to /x\n'],
  ])('%s loads and answers', async (app, body) => {
    const daemon = await startDaemon(app, ['--scgi', '127.0.0.1:0']);
    try {
      const response = await scgiRequest(daemon.addresses.scgi![0], requestVariables('GET', '/x'));
      expect(response.body.toString()).toBe(body);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });
});

describe('--interface and --debug', () => {
  test('an export of two shapes names the flags that choose', () => {
    const result = sluice('serve', 'test/fixtures/apps/ambiguous.mjs', '--scgi', ':0');
    expect(result.stderr).toContain('--interface node or --interface fetch');
  });

  test('--interface node serves a listener whose parameters are not named req and res', async () => {
    const app = 'test/fixtures/apps/oddly-named-listener.mjs';
    const daemon = await startDaemon(app, ['--scgi', '127.0.0.1:0', '--interface', 'node']);
    try {
      const response = await scgiRequest(daemon.addresses.scgi![0], requestVariables('GET', '/x'));
      expect(response.body.toString()).toBe('a Node listener at /x\n');
      expect(daemon.logLines().find((l) => l.msg === 'app recognized as node')).toBeDefined();
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });

  test('--debug answers an uncaught app error with a page showing it; without, a plain 500', async () => {
    for (const [flags, expected] of [
      [['--debug'], /<h1>Error: the probe app failed on purpose<\/h1>/],
      [[], /^Internal Server Error\n$/],
    ] as const) {
      const daemon = await startDaemon('test/fixtures/apps/probe.mjs', ['--scgi', '127.0.0.1:0', ...flags]);
      try {
        const response = await scgiRequest(daemon.addresses.scgi![0], requestVariables('GET', '/error'));
        expect(response.status).toBe(500);
        expect(response.body.toString()).toMatch(expected);
      } finally {
        expect(await daemon.stop()).toBe(0);
      }
    }
  });
});

describe('the development HTTP listener', () => {
  test('serves the app with the environ a front end would build', async () => {
    const daemon = await startDaemon('test/fixtures/apps/probe.mjs', [
      '--http',
      '127.0.0.1:0',
      '--mount',
      '/app',
    ]);
    try {
      const port = Number(daemon.addresses.http![0].split(':').pop());
      const response = await request({ port, path: '/app/env?q=1', headers: { 'X-A': 'b', Proxy: 'evil' } });
      expect(response.status).toBe(200);
      const environ = JSON.parse(response.body.toString());
      expect(environ).toMatchObject({
        REQUEST_METHOD: 'GET',
        SCRIPT_NAME: '/app',
        PATH_INFO: '/env',
        QUERY_STRING: 'q=1',
        HTTP_X_A: 'b',
        REMOTE_ADDR: '127.0.0.1',
        'sluice.protocol': 'http',
      });
      expect(environ.HTTP_PROXY).toBeUndefined();
      const posted = await request({
        port,
        method: 'POST',
        path: '/app/echo',
        body: Buffer.from('round trip'),
      });
      expect(posted.body.toString()).toBe('round trip');
      expect((await request({ port, path: '/app/error' })).status).toBe(500);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });
});

describe('Unix sockets', () => {
  test('the socket gets --socket-mode and is removed at exit', async () => {
    const socket = tempSocketPath('mode.sock');
    const daemon = await startDaemon('examples/hello.mjs', ['--scgi', socket, '--socket-mode', '0600']);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    expect(await daemon.stop()).toBe(0);
    expect(existsSync(socket)).toBe(false);
  });

  test('a stale socket file is replaced', async () => {
    const socket = tempSocketPath('stale.sock');
    // A daemon killed with SIGKILL leaves its socket file behind with nobody listening.
    const crashed = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(socket)})`,
    ]);
    while (!existsSync(socket)) await new Promise((r) => setTimeout(r, 10));
    crashed.kill('SIGKILL');
    await new Promise((r) => crashed.once('exit', r));
    expect(existsSync(socket)).toBe(true);
    const daemon = await startDaemon('examples/hello.mjs', ['--scgi', socket]);
    const response = await scgiRequest('unix:' + socket, requestVariables('GET', '/'));
    expect(response.status).toBe(200);
    expect(await daemon.stop()).toBe(0);
  });

  test('a socket a live server answers on is a clear start-up error', async () => {
    const socket = tempSocketPath('live.sock');
    const live = net.createServer((c) => c.end());
    await new Promise<void>((r) => live.listen(socket, r));
    try {
      const result = sluice('serve', 'examples/hello.mjs', '--scgi', socket);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain('in use');
    } finally {
      live.close();
    }
  });

  test('a path that is not a socket is never replaced', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sl-'));
    const result = sluice('serve', 'examples/hello.mjs', '--scgi', dir);
    expect(result.status).toBe(2);
    expect(existsSync(dir)).toBe(true);
  });
});

describe('signals', () => {
  test('SIGTERM lets a request in flight finish, then exits 0', async () => {
    const daemon = await startDaemon('test/fixtures/apps/probe.mjs', ['--scgi', '127.0.0.1:0']);
    const pending = scgiRequest(daemon.addresses.scgi![0], requestVariables('GET', '/slow?ms=700'));
    await new Promise((r) => setTimeout(r, 200));
    const stopped = daemon.stop('SIGTERM');
    const response = await pending;
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('slept 700\n');
    expect(await stopped).toBe(0);
  });

  test('a connection opened just before SIGTERM, its request not sent yet, is still served', async () => {
    const daemon = await startDaemon('test/fixtures/apps/probe.mjs', ['--scgi', '127.0.0.1:0']);
    const [host, port] = daemon.addresses.scgi![0].split(':');
    const socket = net.connect({ host, port: Number(port) });
    const received: Buffer[] = [];
    socket.on('data', (chunk) => received.push(chunk));
    const closed = new Promise<void>((resolve, reject) => {
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    // Accepted by now; the front end's request follows the signal.
    await new Promise((r) => setTimeout(r, 150));
    const stopped = daemon.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const headers = [['CONTENT_LENGTH', '0'], ['SCGI', '1'], ...requestVariables('GET', '/slow?ms=10')]
      .map(([name, value]) => `${name}\0${value}\0`)
      .join('');
    // Not ended: front ends keep their side open until the response is in.
    socket.write(`${Buffer.byteLength(headers)}:${headers},`);
    await closed;
    expect(Buffer.concat(received).toString()).toMatch(/^Status: 200 OK\r\n[\s\S]*slept 10\n$/);
    expect(await stopped).toBe(0);
  });

  test('SIGINT with a drain timeout cuts a request that takes too long', async () => {
    const daemon = await startDaemon('test/fixtures/apps/probe.mjs', [
      '--scgi',
      '127.0.0.1:0',
      '--drain-timeout',
      '200',
    ]);
    const pending = scgiRequest(daemon.addresses.scgi![0], requestVariables('GET', '/slow?ms=5000')).catch(
      (e) => e,
    );
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    expect(await daemon.stop('SIGINT')).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    await pending;
  });

  test('the listener closes at once: new connections are refused while draining', async () => {
    const daemon = await startDaemon('test/fixtures/apps/probe.mjs', ['--scgi', '127.0.0.1:0']);
    const address = daemon.addresses.scgi![0];
    const pending = scgiRequest(address, requestVariables('GET', '/slow?ms=800'));
    await new Promise((r) => setTimeout(r, 150));
    const stopped = daemon.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 150));
    await expect(scgiRequest(address, requestVariables('GET', '/'))).rejects.toThrow(/ECONNREFUSED/);
    expect((await pending).status).toBe(200);
    expect(await stopped).toBe(0);
  });
});

describe('limits', () => {
  test('--max-header-bytes answers 413 to a larger header block', async () => {
    const daemon = await startDaemon('examples/hello.mjs', [
      '--scgi',
      '127.0.0.1:0',
      '--max-header-bytes',
      '1024',
    ]);
    try {
      const response = await scgiRequest(
        daemon.addresses.scgi![0],
        requestVariables('GET', '/', [['HTTP_X_BIG', 'x'.repeat(2000)]]),
      );
      expect(response.status).toBe(413);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });
});

describe('--allow and FCGI_WEB_SERVER_ADDRS', () => {
  const get = (address: string): Promise<number> =>
    scgiRequest(address, requestVariables('GET', '/')).then(
      (r) => r.status,
      () => 0,
    );

  test('a TCP peer outside --allow is refused; Unix-socket peers are governed by the file mode', async () => {
    const socket = tempSocketPath('allow.sock');
    const daemon = await startDaemon('examples/hello.mjs', [
      '--scgi',
      '127.0.0.1:0',
      '--scgi',
      socket,
      '--allow',
      '10.9.9.9',
    ]);
    try {
      const [tcp, unix] = daemon.addresses.scgi!;
      expect(await get(tcp)).toBe(0);
      // The log line travels its own pipe: it may arrive after the client saw the close.
      await until(
        () => daemon.logLines().some((l) => l.msg === 'connection from a peer not in --allow refused'),
        5000,
        () => daemon.logs(),
      );
      expect(await get(unix)).toBe(200);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });

  test('the development HTTP listener refuses a peer outside --allow too (it used to serve any peer)', async () => {
    const daemon = await startDaemon('examples/hello.mjs', ['--http', '127.0.0.1:0', '--allow', '10.9.9.9']);
    try {
      const port = Number(daemon.addresses.http![0].split(':').pop());
      const status = await request({ port }).then(
        (r) => r.status,
        () => 0,
      );
      expect(status).toBe(0);
      const refused = (): Array<Record<string, unknown>> =>
        daemon.logLines().filter((l) => l.msg === 'connection from a peer not in --allow refused');
      await until(
        () => refused().length > 0,
        5000,
        () => daemon.logs(),
      );
      expect(refused().map((l) => l.protocol)).toEqual(['http']);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });

  test('a peer inside an allowed range is served', async () => {
    const daemon = await startDaemon('examples/hello.mjs', [
      '--scgi',
      '127.0.0.1:0',
      '--allow',
      '10.0.0.1,127.0.0.0/8',
    ]);
    try {
      expect(await get(daemon.addresses.scgi![0])).toBe(200);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });

  test('FCGI_WEB_SERVER_ADDRS applies when --allow is not given', async () => {
    const daemon = await startDaemon('examples/hello.mjs', ['--scgi', '127.0.0.1:0'], {
      env: { FCGI_WEB_SERVER_ADDRS: '192.0.2.1' },
    });
    try {
      expect(await get(daemon.addresses.scgi![0])).toBe(0);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });

  test('a bad --allow entry is a usage error', () => {
    expect(sluice('serve', 'examples/hello.mjs', '--scgi', ':0', '--allow', 'somewhere').status).toBe(2);
  });
});

describe('a reader that stops early (`sluice serve --help | head`)', () => {
  let daemon: Daemon;
  beforeAll(async () => {
    daemon = await startDaemon('examples/hello.mjs', ['--scgi', '127.0.0.1:0']);
  });
  afterAll(async () => {
    expect(await daemon.stop()).toBe(0);
  });

  /**
   * Runs sluice with stdout (and, with `stderrToo`, stderr) on a FIFO whose reader has already
   * closed: the first write fails with EPIPE, as it does for `| head` once head has exited, but
   * every time rather than when the race goes that way.
   */
  async function withReaderGone(
    args: string[],
    stderrToo = false,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-epipe-'));
    try {
      const fifo = path.join(dir, 'out');
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
      // A non-blocking reader lets the writer's open succeed at once; closing it leaves no reader.
      const reader = openSync(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
      const writer = openSync(fifo, 'w');
      closeSync(reader);
      const child = spawn(process.execPath, [SLUICE_BIN, ...args], {
        cwd: REPO_ROOT,
        stdio: ['ignore', writer, stderrToo ? writer : 'pipe'],
      });
      closeSync(writer);
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        child.on('close', (c, s) => resolve([c, s])),
      );
      return { code, signal, stderr };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test.each([
    ['--help', ['--help']],
    ['--version', ['--version']],
    ['serve --help', ['serve', '--help']],
    ['check-config --help', ['check-config', '--help']],
    ['request --help', ['request', '--help']],
    ['ping --help', ['ping', '--help']],
    ['bridge --help', ['bridge', '--help']],
    ['check-config', ['check-config', 'examples/hello.mjs', '--http', ':0']],
  ])('%s exits 0 without a stack trace', async (_name, args) => {
    expect(await withReaderGone(args)).toEqual({ code: 0, signal: null, stderr: '' });
  });

  test('sluice request whose body has no reader exits 0 (docs/cli.md)', async () => {
    const args = ['request', '--protocol', 'scgi', '--connect', daemon.addresses.scgi![0], '/'];
    expect(await withReaderGone(args)).toEqual({ code: 0, signal: null, stderr: '' });
  });

  test('with stderr gone too, a usage error still exits 2', async () => {
    expect(await withReaderGone(['serve', 'examples/hello.mjs'], true)).toMatchObject({
      code: 2,
      signal: null,
    });
    expect(await withReaderGone(['serve', '--frobnicate'], true)).toMatchObject({ code: 2, signal: null });
  });

  test('any other failed write is a failure: `sluice --help > /dev/full` says so in one line, exits 1', () => {
    const full = openSync('/dev/full', 'w');
    try {
      const result = spawnSync(process.execPath, [SLUICE_BIN, '--help'], {
        cwd: REPO_ROOT,
        stdio: ['ignore', full, 'pipe'],
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(result).toMatchObject({ status: 1, stderr: 'sluice: cannot write to stdout: ENOSPC\n' });
    } finally {
      closeSync(full);
    }
  });

  test('as a shell runs it: `sluice serve --help | head -1` with pipefail succeeds', () => {
    const result = spawnSync(
      'bash',
      ['-c', 'set -o pipefail; "$0" "$1" serve --help | head -1', process.execPath, SLUICE_BIN],
      { cwd: REPO_ROOT, encoding: 'utf8', timeout: 20_000 },
    );
    expect(result).toMatchObject({ status: 0, stderr: '' });
    expect(result.stdout).toMatch(/^Usage: sluice serve/);
  });
});
