// `sluice bridge` under a real CGI host (Apache mod_cgid, from the shipped deploy config) in front of a
// sluice daemon, over FastCGI and SCGI; and run directly, for what a CGI host cannot easily provoke.
import { spawn } from 'node:child_process';
import { REPO_ROOT, SLUICE_BIN, startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { requireBinary, startFrontEnd, type FrontEnd } from '../helpers/frontends';
import { patternStream, request, requestStream } from '../helpers/http';
import { pattern, sha256 } from '../helpers/bytes';
import { parseCgiResponse } from '../helpers/scgi';

const MiB = 1024 * 1024;
const DEPLOY = 'deploy/apache/sluice-bridge-cgi.conf';
const withApache = requireBinary('apache');

async function withLogs(frontEnd: FrontEnd, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    (error as Error).message += `\n--- front end logs ---\n${frontEnd.errorLog().slice(-3000)}`;
    throw error;
  }
}

(withApache ? describe.each(['fastcgi', 'scgi'] as const) : describe.skip.each(['fastcgi', 'scgi'] as const))(
  'the bridge under Apache mod_cgid, over %s',
  (protocol) => {
    let daemon: Daemon;
    let apache: FrontEnd;

    beforeAll(async () => {
      daemon = await startDaemon('test/fixtures/apps/probe.mjs', [
        `--${protocol}`,
        'unix:' + tempSocketPath(`${protocol}.sock`),
        '--socket-mode',
        '0666',
      ]);
      apache = await startFrontEnd('apache', DEPLOY, { [protocol]: daemon.addresses[protocol]![0] });
    }, 60_000);

    afterAll(async () => {
      await apache?.stop();
      if (daemon) expect(await daemon.stop()).toBe(0);
    });

    test('GET: the CGI variables arrive, the process environment does not', () =>
      withLogs(apache, async () => {
        const response = await request({
          port: apache.port,
          path: '/env?x=1&y=two%20words',
          headers: {
            'X-Repeated': ['one', 'two'],
            Proxy: 'http://evil.test:3128',
            Authorization: 'Bearer t',
          },
        });
        expect(response.status).toBe(200);
        const environ = JSON.parse(response.body.toString());
        expect(environ).toMatchObject({
          REQUEST_METHOD: 'GET',
          QUERY_STRING: 'x=1&y=two%20words',
          REQUEST_URI: '/env?x=1&y=two%20words',
          SCRIPT_NAME: '',
          PATH_INFO: '/env',
          GATEWAY_INTERFACE: 'CGI/1.1',
          HTTP_X_REPEATED: 'one, two',
          HTTP_AUTHORIZATION: 'Bearer t',
          SERVER_PORT: String(apache.port),
          'sluice.protocol': protocol,
        });
        for (const name of ['HTTP_PROXY', 'PATH', 'HOME', 'SLUICE_CONNECT', 'SLUICE_PROTOCOL']) {
          expect(environ).not.toHaveProperty(name);
        }
      }));

    test('POST of 10 MiB arrives intact (checked by hash)', () =>
      withLogs(apache, async () => {
        const body = pattern(10 * MiB);
        const response = await request({
          port: apache.port,
          method: 'POST',
          path: '/hash',
          body,
          timeoutMs: 30_000,
        });
        expect(response.status).toBe(200);
        expect(JSON.parse(response.body.toString())).toEqual({
          bytes: body.length,
          sha256: sha256(body),
          contentLength: String(body.length),
        });
      }));

    test('a 10 MiB response streams through intact (checked by hash)', () =>
      withLogs(apache, async () => {
        const size = 10 * MiB;
        const response = await requestStream({
          port: apache.port,
          path: `/stream?bytes=${size}`,
          timeoutMs: 30_000,
        });
        expect(response.status).toBe(200);
        expect(response.bytes).toBe(size);
        expect(response.sha256).toBe(sha256(pattern(size)));
      }));

    test("the application's status and repeated headers reach the client", () =>
      withLogs(apache, async () => {
        const created = await request({ port: apache.port, path: '/headers' });
        expect(created.status).toBe(201);
        expect(created.headers['set-cookie']).toEqual(['a=1', 'b=2']);
        const missing = await request({ port: apache.port, path: '/missing' });
        expect(missing.status).toBe(404);
        expect(missing.body.toString()).toBe('no such thing\n');
      }));

    test('a chunked upload without Content-Length arrives whole', () =>
      withLogs(apache, async () => {
        const body = patternStream(3 * MiB);
        const response = await request({
          port: apache.port,
          method: 'POST',
          path: '/hash',
          body,
          timeoutMs: 30_000,
        });
        expect(response.status).toBe(200);
        expect(JSON.parse(response.body.toString())).toMatchObject({
          bytes: 3 * MiB,
          sha256: body.digest(),
          // FastCGI streams it with no length; SCGI needs one, so the bridge spooled it.
          contentLength: protocol === 'scgi' ? String(3 * MiB) : null,
        });
      }));
  },
);

(withApache ? describe : describe.skip)('the bridge under Apache mod_cgid, daemon down', () => {
  let apache: FrontEnd;
  beforeAll(async () => {
    apache = await startFrontEnd('apache', DEPLOY, { fastcgi: 'unix:' + tempSocketPath('nobody-home.sock') });
  }, 30_000);
  afterAll(() => apache?.stop());

  test('the client gets a 502 with a short body; the error log gets one line', async () => {
    const response = await request({ port: apache.port, path: '/env' });
    expect(response.status).toBe(502);
    expect(response.body.toString()).toBe('502 Bad Gateway: the application server is not reachable\n');
    const log = apache.errorLog();
    expect(log).toMatch(/sluice bridge: fastcgi unix:\S+nobody-home\.sock: cannot connect: ENOENT/);
    expect(log).not.toMatch(/\n\s+at /);
  });
});

/** Runs the bridge as a CGI host would: CGI variables in the environment, the body on stdin. */
function runBridge(
  args: string[],
  env: Record<string, string>,
  stdin: Buffer = Buffer.alloc(0),
): Promise<{ code: number | null; stdout: Buffer; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SLUICE_BIN, 'bridge', ...args], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        GATEWAY_INTERFACE: 'CGI/1.1',
        SERVER_PROTOCOL: 'HTTP/1.1',
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out), stderr, ms: Date.now() - started }),
    );
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

describe('the bridge run directly', () => {
  let daemon: Daemon;
  let fastcgi: string;
  let scgi: string;
  beforeAll(async () => {
    daemon = await startDaemon('test/fixtures/apps/probe.mjs', [
      '--fastcgi',
      '127.0.0.1:0',
      '--scgi',
      '127.0.0.1:0',
    ]);
    fastcgi = daemon.addresses.fastcgi![0];
    scgi = daemon.addresses.scgi![0];
  });
  afterAll(async () => {
    if (daemon) expect(await daemon.stop()).toBe(0);
  });

  test('silence beyond --timeout is a 504 and a line on stderr', async () => {
    const result = await runBridge(['--connect', fastcgi, '--timeout', '1'], {
      REQUEST_METHOD: 'GET',
      PATH_INFO: '/slow',
      QUERY_STRING: 'ms=3000',
    });
    expect(result.code).toBe(0);
    expect(parseCgiResponse(result.stdout).status).toBe(504);
    expect(result.stderr).toMatch(/^sluice bridge: fastcgi .*nothing sent or received for 1000 ms\n$/);
    expect(result.ms).toBeLessThan(2900);
  });

  test('over SCGI, a body without CONTENT_LENGTH beyond --max-spool-bytes is a 411', async () => {
    const result = await runBridge(
      ['--connect', scgi, '--protocol', 'scgi', '--max-spool-bytes', '1000'],
      { REQUEST_METHOD: 'POST', PATH_INFO: '/hash', HTTP_TRANSFER_ENCODING: 'chunked' },
      pattern(5000),
    );
    expect(parseCgiResponse(result.stdout).status).toBe(411);
    expect(result.stderr).toContain('exceeds 1000 bytes');
  });

  test('SLUICE_CONNECT and SLUICE_PROTOCOL stand in for the flags', async () => {
    const result = await runBridge([], {
      SLUICE_CONNECT: scgi,
      SLUICE_PROTOCOL: 'scgi',
      REQUEST_METHOD: 'GET',
      PATH_INFO: '/env',
      QUERY_STRING: '',
    });
    const response = parseCgiResponse(result.stdout);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body.toString())).toMatchObject({ 'sluice.protocol': 'scgi', SCGI: '1' });
  });

  test('a usage error still answers a CGI host with a 500, and exits 2', async () => {
    const result = await runBridge([], { REQUEST_METHOD: 'GET' });
    expect(result.code).toBe(2);
    expect(parseCgiResponse(result.stdout).status).toBe(500);
    expect(result.stderr).toBe(
      'sluice bridge: no server to forward to: give --connect ADDR or set SLUICE_CONNECT\n',
    );
  });

  test('sluice bridge --help documents the variables and failures', async () => {
    const result = await runBridge(['--help'], {});
    expect(result.code).toBe(0);
    const text = result.stdout.toString();
    for (const word of [
      '--connect',
      '--protocol',
      '--timeout',
      '--pass',
      'SLUICE_CONNECT',
      'HTTP_PROXY',
      '502',
      '504',
    ]) {
      expect(text).toContain(word);
    }
  });
});
