// `sluice request` and `sluice ping` as a user runs them, against sluice over both protocols and
// against PHP-FPM; and the same client as the `sluice/client` library export.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, SLUICE_BIN, startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { pattern, sha256 } from '../helpers/bytes';
import { havePhpFpm, startPhpFpm, type PhpFpm } from '../helpers/php-fpm';

const MiB = 1024 * 1024;

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the CLI; stdout is kept as bytes so large bodies can be hashed. */
function sluice(args: string[], options: { stdin?: Buffer; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SLUICE_BIN, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, SLUICE_CONNECT: '', SLUICE_PROTOCOL: '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin ?? Buffer.alloc(0));
  });
}

const json = (run: Run): Record<string, unknown> => {
  if (run.code !== 0) throw new Error(`exit ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout.toString()) as Record<string, unknown>;
};

let daemon: Daemon;
let bodyFile: string;
beforeAll(async () => {
  daemon = await startDaemon('test/fixtures/apps/probe.mjs', [
    '--fastcgi',
    'unix:' + tempSocketPath('fastcgi.sock'),
    '--scgi',
    '127.0.0.1:0',
  ]);
  bodyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-request-')), 'body.bin');
  fs.writeFileSync(bodyFile, pattern(10 * MiB));
});
afterAll(async () => {
  fs.rmSync(path.dirname(bodyFile), { recursive: true, force: true });
  if (daemon) expect(await daemon.stop()).toBe(0);
});

describe.each(['fastcgi', 'scgi'] as const)('sluice request against sluice over %s', (protocol) => {
  const connect = (): string[] => ['--connect', daemon.addresses[protocol]![0], '--protocol', protocol];

  test('a URL sets the request variables; headers become HTTP_*', async () => {
    const environ = json(
      await sluice([
        'request',
        ...connect(),
        '-H',
        'X-Test: one',
        '-H',
        'X-Test: two',
        '--env',
        'REMOTE_ADDR=192.0.2.7',
        'https://example.com:8443/env?x=1&y=a%20b',
      ]),
    );
    expect(environ).toMatchObject({
      REQUEST_METHOD: 'GET',
      REQUEST_URI: '/env?x=1&y=a%20b',
      QUERY_STRING: 'x=1&y=a%20b',
      PATH_INFO: '/env',
      HTTPS: 'on',
      HTTP_HOST: 'example.com:8443',
      SERVER_NAME: 'example.com',
      SERVER_PORT: '8443',
      HTTP_X_TEST: 'one, two',
      REMOTE_ADDR: '192.0.2.7',
      'sluice.url_scheme': 'https',
      'sluice.protocol': protocol,
    });
  });

  test('-d @file sends 10 MiB intact (checked by hash), as a POST', async () => {
    const environ = json(await sluice(['request', ...connect(), '-d', '@' + bodyFile, '/hash']));
    expect(environ).toEqual({
      bytes: 10 * MiB,
      sha256: sha256(pattern(10 * MiB)),
      contentLength: String(10 * MiB),
    });
  });

  test('-d @- sends stdin; -X sets the method', async () => {
    const body = Buffer.from('from stdin');
    const run = await sluice(['request', ...connect(), '-X', 'PUT', '-d', '@-', '/echo'], { stdin: body });
    expect(run.code).toBe(0);
    expect(run.stdout.toString()).toBe('from stdin');
  });

  test('a 10 MiB response reaches stdout intact (checked by hash)', async () => {
    const run = await sluice(['request', ...connect(), `/stream?bytes=${10 * MiB}`]);
    expect(run.code).toBe(0);
    expect(run.stdout.length).toBe(10 * MiB);
    expect(sha256(run.stdout)).toBe(sha256(pattern(10 * MiB)));
  });

  test("the tail of a response is not lost when stdout is a pipe no one reads until sluice's work is done", async () => {
    // The first 64 KiB fill the pipe exactly; the tail cannot be written until the reader reads,
    // which it does only once sluice exited or after a second. Exiting with the tail still queued
    // (process.exit() right after the response ended) lost it: a 10 MiB response came 1 byte short.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-fifo-'));
    const fifo = path.join(dir, 'out');
    try {
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
      // Each open waits for the other end: the reader's runs on libuv's thread pool meanwhile.
      const opening = fs.promises.open(fifo, 'r');
      const writer = fs.openSync(fifo, 'w');
      const reader = await opening;
      const child = spawn(process.execPath, [SLUICE_BIN, 'request', ...connect(), '/fill-then-tail'], {
        cwd: REPO_ROOT,
        stdio: ['ignore', writer, 'pipe'],
      });
      fs.closeSync(writer);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await Promise.race([exited, new Promise((r) => setTimeout(r, 1000))]);
      const out: Buffer[] = [];
      for await (const chunk of reader.createReadStream()) out.push(chunk as Buffer);
      expect(await exited).toBe(0);
      const received = Buffer.concat(out);
      expect(received.length).toBe(65546);
      expect(received.equals(pattern(65546))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a reader that stops early (`| head`) ends it quietly with exit 0', async () => {
    const child = spawn(
      process.execPath,
      [SLUICE_BIN, 'request', ...connect(), `/stream?bytes=${10 * MiB}`],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });

  test('-i prints the status line and headers first', async () => {
    const run = await sluice(['request', ...connect(), '-i', '/headers']);
    expect(run.code).toBe(0);
    expect(run.stdout.toString()).toBe(
      'Status: 201 Created\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Probe: yes\r\nContent-Length: 8\r\n\r\ncreated\n',
    );
  });

  test('a 4xx exits 0, a 5xx exits 5 with a line on stderr', async () => {
    expect((await sluice(['request', ...connect(), '/missing'])).code).toBe(0);
    const failed = await sluice(['request', ...connect(), '/error']);
    expect(failed.code).toBe(5);
    expect(failed.stderr).toMatch(/the application answered 500 Internal Server Error\n$/);
  });
});

describe('sluice request failures', () => {
  test('nothing listening: exit 3, one line, no stack', async () => {
    const run = await sluice(['request', '--connect', 'unix:' + tempSocketPath('nobody.sock'), '/']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(
      /^sluice: fastcgi unix:\S+nobody\.sock: cannot connect: ENOENT \(ERR_CLIENT_CONNECT\)\n$/,
    );
  });

  test('FastCGI spoken to an SCGI server: exit 4', async () => {
    const run = await sluice([
      'request',
      '--connect',
      daemon.addresses.scgi![0],
      '--protocol',
      'fastcgi',
      '/',
    ]);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain('ERR_CLIENT_');
  });

  test('SLUICE_CONNECT and SLUICE_PROTOCOL stand in for the flags', async () => {
    const run = await sluice(['request', '/missing'], {
      env: { SLUICE_CONNECT: daemon.addresses.scgi![0], SLUICE_PROTOCOL: 'scgi' },
    });
    expect(run.stdout.toString()).toBe('no such thing\n');
  });

  test.each([
    ['no server', ['request', '/']],
    ['a relative target', ['request', '--connect', ':1', 'x']],
    ['a bad header', ['request', '--connect', ':1', '-H', 'nocolon', '/']],
    ['a bad --env', ['request', '--connect', ':1', '--env', 'NOEQUALS', '/']],
    ['a missing file', ['request', '--connect', ':1', '-d', '@/nonexistent/file', '/']],
    ['a bad protocol', ['request', '--connect', ':1', '--protocol', 'http', '/']],
    ['ping over SCGI without --path', ['ping', '--connect', ':1', '--protocol', 'scgi']],
  ])('%s is a usage error (exit 2)', async (_name, args) => {
    const run = await sluice(args);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  test('--help documents the options and exit codes', async () => {
    const run = await sluice(['request', '--help']);
    expect(run.code).toBe(0);
    for (const word of [
      '--connect',
      '--protocol',
      '-X',
      '-H',
      '-d',
      '--env',
      '-i',
      'Exit codes',
      'SCRIPT_FILENAME',
    ]) {
      expect(run.stdout.toString()).toContain(word);
    }
  });
});

describe('sluice ping', () => {
  test('FastCGI GET_VALUES answers: exit 0 and the values', async () => {
    const run = await sluice(['ping', '--connect', daemon.addresses.fastcgi![0]]);
    expect(run.code).toBe(0);
    expect(run.stdout.toString()).toMatch(
      /^ok fastcgi unix:\S+ .*FCGI_MAX_REQS=256 FCGI_MPXS_CONNS=1 [\d.]+ ms\n$/,
    );
  });

  test('--path over SCGI: 2xx is healthy, anything else exits 5', async () => {
    const scgi = ['--connect', daemon.addresses.scgi![0], '--protocol', 'scgi'];
    expect((await sluice(['ping', ...scgi, '--path', '/env'])).code).toBe(0);
    const missing = await sluice(['ping', ...scgi, '--path', '/missing']);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain('404 Not Found');
  });

  test('nothing listening: exit 3', async () => {
    expect((await sluice(['ping', '--connect', '127.0.0.1:1', '--timeout', '2'])).code).toBe(3);
  });
});

describe('the sluice/client library', () => {
  test('resolves through package.json exports and streams a 10 MiB response', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const client = require('sluice/client') as typeof import('../../src/client');
    expect(require.resolve('sluice/client')).toBe(path.join(REPO_ROOT, 'dist', 'client', 'index.js'));
    const response = await client.fastcgiRequest(
      { params: client.requestEnviron({ target: `/stream?bytes=${10 * MiB}` }) },
      { address: daemon.addresses.fastcgi![0] },
    );
    expect(response.status).toBe(200);
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of response.body) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    expect(bytes).toBe(10 * MiB);
    expect(hash.digest('hex')).toBe(sha256(pattern(10 * MiB)));
  });

  test('a connection failure rejects with a typed ClientError', async () => {
    const client = await import('../../src/client');
    await expect(
      client.scgiRequest(
        { params: [['REQUEST_METHOD', 'GET']] },
        { address: 'unix:' + tempSocketPath('none.sock') },
      ),
    ).rejects.toMatchObject({ code: 'ERR_CLIENT_CONNECT', kind: 'connect' });
  });
});

(havePhpFpm() ? describe : describe.skip)('sluice request and ping against PHP-FPM', () => {
  let fpm: PhpFpm;
  beforeAll(async () => {
    fpm = await startPhpFpm();
  }, 20_000);
  afterAll(() => fpm?.stop());

  const request = (args: string[], stdin?: Buffer): Promise<Run> =>
    sluice(['request', '--connect', fpm.address, '--env', `SCRIPT_FILENAME=${fpm.probe}`, ...args], {
      stdin,
    });

  test('GET with a URL: PHP sees the method, URI, query, HTTPS, host and headers', async () => {
    const run = await request(['-i', '-H', 'X-Test: yes', 'https://php.example:8443/probe.php?a=1&b=two']);
    expect(run.code).toBe(0);
    const text = run.stdout.toString();
    expect(text).toMatch(/^Status: 200 OK\r\n/);
    expect(text).toContain('X-Probe: php\r\n');
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
    expect(body).toMatchObject({
      method: 'GET',
      uri: '/probe.php?a=1&b=two',
      query: { a: '1', b: 'two' },
      https: 'on',
      host: 'php.example:8443',
      server_name: 'php.example',
      server_port: '8443',
      x_test: 'yes',
    });
  });

  test('POST of 1 MiB from stdin arrives intact (checked by hash)', async () => {
    const body = pattern(MiB);
    const run = await request(
      ['-H', 'Content-Type: application/octet-stream', '-d', '@-', '/probe.php'],
      body,
    );
    expect(json(run)).toMatchObject({
      method: 'POST',
      bytes: MiB,
      sha256: sha256(body),
      content_type: 'application/octet-stream',
    });
  });

  test('a 10 MiB response from PHP reaches stdout intact (checked by hash)', async () => {
    const run = await request([`/probe.php?bytes=${10 * MiB}`]);
    expect(run.code).toBe(0);
    expect(sha256(run.stdout)).toBe(sha256(pattern(10 * MiB)));
  });

  test("PHP's 503 exits 5", async () => {
    expect((await request(['/probe.php?status=503'])).code).toBe(5);
  });

  test('ping: GET_VALUES, and the ping path PHP-FPM answers itself', async () => {
    const values = await sluice(['ping', '--connect', fpm.address]);
    expect(values.code).toBe(0);
    // PHP-FPM answers only FCGI_MPXS_CONNS: it never multiplexes.
    expect(values.stdout.toString()).toMatch(/^ok fastcgi unix:\S+ FCGI_MPXS_CONNS=0 [\d.]+ ms\n$/);
    // PHP-FPM looks for SCRIPT_FILENAME before its ping.path; any value does.
    const pong = await sluice([
      'ping',
      '--connect',
      fpm.address,
      '--path',
      '/fpm-ping',
      '--env',
      'SCRIPT_FILENAME=/fpm-ping',
    ]);
    expect(pong.code).toBe(0);
    expect(pong.stdout.toString()).toMatch(/\/fpm-ping: 200 OK/);
    // Without it PHP-FPM answers 404 and says why on FCGI_STDERR, which reaches our stderr.
    const unknown = await sluice(['ping', '--connect', fpm.address, '--path', '/fpm-ping']);
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toContain('Primary script unknown');
  });
});
