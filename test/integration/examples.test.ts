// The bundled examples behave as the README and docs say, served through the development listener.
import { startDaemon, type Daemon } from '../helpers/daemon';
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
