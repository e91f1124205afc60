// The bundled examples behave as the README and docs say, served through the development listener.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { REPO_ROOT, SLUICE_BIN, startDaemon, type Daemon } from '../helpers/daemon';
import { request } from '../helpers/http';

async function serve(app: string): Promise<{ daemon: Daemon; port: number }> {
  const daemon = await startDaemon(app, ['--http', '127.0.0.1:0']);
  return { daemon, port: Number(daemon.addresses.http![0].split(':').pop()) };
}

test('hello answers Hello, world! with a Content-Length', async () => {
  const { daemon, port } = await serve('examples/hello.mjs');
  try {
    const response = await request({ port, path: '/' });
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('Hello, world!\n');
    expect(response.headers['content-length']).toBe('14');
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
});

test('guess shows the form, judges a posted guess and finds the number by bisection', async () => {
  const { daemon, port } = await serve('examples/guess.mjs');
  try {
    const form = await request({ port, path: '/' });
    expect(form.status).toBe(200);
    expect(form.body.toString()).toContain('<form method="POST">');
    const post = (body: string) =>
      request({
        port,
        method: 'POST',
        path: '/',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body,
      }).then((r) => r.body.toString());
    expect(await post('other=1')).toContain("You didn't guess");
    expect(await post('myparam=abc')).toContain('That is not a number');
    let low = 1;
    let high = 100;
    for (let tries = 0; tries < 8; tries++) {
      const guess = Math.floor((low + high) / 2);
      const answer = await post(`myparam=${guess}`);
      if (answer.includes('You guessed correctly')) return;
      if (answer.includes('higher than your guess')) low = guess + 1;
      else if (answer.includes('lower than your guess')) high = guess - 1;
      else throw new Error(`unexpected answer: ${answer}`);
    }
    throw new Error('bisection did not find the number in 8 guesses');
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
});

test('middleware: lowercased body, errors turned into a 503 by the outer middleware', async () => {
  const { daemon, port } = await serve('examples/middleware.mjs');
  try {
    expect((await request({ port, path: '/' })).body.toString()).toBe('hello, world!\n');
    const failed = await request({ port, path: '/fail' });
    expect(failed.status).toBe(503);
    expect(failed.body.toString()).toBe('Sorry, try again later.\n');
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
});

test.each([
  ['examples/express/app.mjs', '/', /^Hello from Express, 127\.0\.0\.1 over http!/],
  ['examples/koa/app.mjs', '/', /"hello":"from Koa"/],
  ['examples/fastify/app.mjs', '/', /"hello":"from Fastify"/],
  ['examples/hono/app.mjs', '/hello/world', /"hello":"world"/],
])('%s runs unchanged', async (app, path, answer) => {
  const { daemon, port } = await serve(app);
  try {
    const response = await request({ port, path });
    expect(response.status).toBe(200);
    expect(response.body.toString()).toMatch(answer);
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
});

test('blog: PUT creates (201) then updates (200), GET lists and shows, DELETE 204, 404 and 411', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-blog-'));
  const daemon = await startDaemon('examples/blog/app.mjs', ['--http', '127.0.0.1:0'], {
    env: { BLOG_DIR: dir },
  });
  const port = Number(daemon.addresses.http![0].split(':').pop());
  const put = (name: string, body: string) => request({ port, method: 'PUT', path: `/${name}`, body });
  try {
    expect((await put('first-post', 'Hello, blog')).status).toBe(201);
    expect((await put('first-post', 'Hello again')).status).toBe(200);
    expect((await put('second', 'Two')).status).toBe(201);
    expect(readFileSync(path.join(dir, 'first-post.txt'), 'utf8')).toBe('Hello again');
    const one = await request({ port, path: '/first-post' });
    expect([one.status, one.body.toString()]).toEqual([200, 'Hello again']);
    const all = (await request({ port, path: '/' })).body.toString();
    expect(all).toContain('== first post ==\nHello again');
    expect(all).toContain('== second ==\nTwo');
    expect((await request({ port, method: 'DELETE', path: '/second' })).status).toBe(204);
    expect((await request({ port, path: '/second' })).status).toBe(404);
    expect((await request({ port, method: 'DELETE', path: '/second' })).status).toBe(404);
    expect((await request({ port, method: 'PUT', path: '/empty', body: '' })).status).toBe(411);
    expect((await request({ port, path: '/..%2Fescape' })).status).toBe(404);
  } finally {
    expect(await daemon.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('toolkit: query, request id, compression, form, the 500 and one access line per request', async () => {
  const { daemon, port } = await serve('examples/toolkit.mjs');
  try {
    const hello = await request({ port, path: '/?name=you' });
    expect(hello.body.toString()).toMatch(/^Hello, you! \(request [0-9a-f-]{36}\)/);
    expect(hello.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const long = await request({ port, path: '/long', headers: { 'Accept-Encoding': 'gzip' } });
    expect(long.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(long.body).toString()).toContain('All work and no play');
    const form = await request({
      port,
      method: 'POST',
      path: '/form',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'name=J%C3%B6rg',
    });
    expect(form.body.toString()).toBe('Hello, Jörg!\n');
    const failed = await request({ port, path: '/fail' });
    expect([failed.status, failed.body.toString()]).toEqual([500, 'Internal Server Error\n']);
    // A line is written once the response is complete, so possibly just after the client had it.
    const accessLines = () => daemon.logLines().filter((l) => 'access' in l);
    for (let tries = 0; accessLines().length < 4 && tries < 100; tries++)
      await new Promise((r) => setTimeout(r, 20));
    const access = accessLines();
    expect(access.map((l) => (l.access as { status: number }).status)).toEqual([200, 200, 200, 500]);
    expect(String(access[0].msg)).toMatch(
      /^127\.0\.0\.1 - - \[.*\] "GET \/\?name=you HTTP\/1\.1" 200 \d+ "-" "-"$/,
    );
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
});

test.each(['cookie', 'file'])(
  'sessions: the %s store counts one visitor across two workers, and forgets on /forget',
  async (store) => {
    // The example makes the directory.
    const dir = store === 'file' ? mkdtempSync(path.join(tmpdir(), 'sluice-sessions-')) : undefined;
    const env = dir === undefined ? {} : { SESSION_DIR: path.join(dir, 'sessions') };
    // Round robin, so that both workers answer the same visitor.
    const daemon = await startDaemon('examples/sessions.mjs', ['--http', '127.0.0.1:0', '--workers', '2'], {
      env: { ...env, SESSION_SECRET: 'x'.repeat(32), NODE_CLUSTER_SCHED_POLICY: 'rr' },
    });
    const port = Number(daemon.addresses.http![0].split(':').pop());
    try {
      let cookie = '';
      let visits = 0;
      const pids = new Set<string>();
      while (pids.size < 2) {
        const visit = ++visits;
        if (visit > 20) throw new Error('one worker answered 20 visits in a row');
        const response = await request({ port, path: '/', headers: cookie === '' ? {} : { Cookie: cookie } });
        const answer = /^You have visited this page (\d+) times?\. \(served by process (\d+)\)\n$/.exec(
          response.body.toString(),
        );
        expect(answer?.[1]).toBe(String(visit));
        pids.add(answer![2]);
        cookie = response.headers['set-cookie']![0].split(';')[0];
      }
      const forget = await request({ port, path: '/forget', headers: { Cookie: cookie } });
      expect(forget.headers['set-cookie']![0]).toMatch(/^sluice_session=; Max-Age=0;/);
      // A file session is gone with its file; a copy of a cookie session's cookie holds until it expires.
      const replayed = await request({ port, path: '/', headers: { Cookie: cookie } });
      const count = store === 'file' ? '1 time' : `${visits + 1} times`;
      expect(replayed.body.toString()).toContain(`visited this page ${count}.`);
    } finally {
      expect(await daemon.stop()).toBe(0);
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('sessions: without SESSION_SECRET the daemon refuses to start', () => {
  const env = { ...process.env };
  delete env.SESSION_SECRET;
  const result = spawnSync(
    process.execPath,
    [SLUICE_BIN, 'serve', 'examples/sessions.mjs', '--http', '127.0.0.1:0', '--workers', '0'],
    { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 20_000 },
  );
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('sessions: no secret given');
});

test('embedded: a program serves Hono with serve(), and drains and ends by itself on SIGTERM', async () => {
  const child = spawn(process.execPath, ['examples/embedded.mjs'], {
    cwd: REPO_ROOT,
    env: { ...process.env, HTTP_ADDR: '127.0.0.1:0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'close');
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  let buffered = '';
  const lineArrived = () => new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let end; (end = buffered.indexOf('\n')) !== -1; buffered = buffered.slice(end + 1))
      lines.push(JSON.parse(buffered.slice(0, end)) as Record<string, unknown>);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    while (lines.length === 0) {
      await Promise.race([lineArrived(), exited.then(() => Promise.reject(new Error(stderr)))]);
    }
    const [http] = lines[0].listening as Array<{ port: number }>;
    const response = await request({ port: http.port, path: '/hello/you' });
    expect(JSON.parse(response.body.toString())).toEqual({ hello: 'you' });
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(lines[1]).toEqual({ stopped: 'SIGTERM', requests: 1 });
    expect(stderr).toContain('"msg":"app recognized as fetch"');
  } finally {
    child.kill('SIGKILL');
  }
});
