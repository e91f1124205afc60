// sluice inside your own program: serve() binds the listeners in this process and returns the server.
//
//   node examples/embedded.mjs        # then: curl localhost:8080/hello/you
//   FASTCGI_ADDR=unix:/tmp/app.sock node examples/embedded.mjs   # and FastCGI for nginx as well
//
// The program owns its process: it decides what a signal does (here SIGTERM and Ctrl-C drain the
// requests in flight, then the program ends by itself) and where the log goes (here pino on stderr;
// serve() is silent without a logger). HTTP_ADDR (default :8080) and FASTCGI_ADDR name the listeners.
import { Hono } from 'hono';
import pino from 'pino';
import { serve } from 'sluice';

const app = new Hono();
app.get('/', (c) => c.text('Hello from a program that embeds sluice!\n'));
app.get('/hello/:name', (c) => c.json({ hello: c.req.param('name') }));

const server = await serve(app, {
  http: [process.env.HTTP_ADDR ?? ':8080'],
  fastcgi: process.env.FASTCGI_ADDR ? [process.env.FASTCGI_ADDR] : [],
  maxBodyBytes: 1_000_000,
  logger: pino({ level: 'info' }, pino.destination(2)),
});
console.log(JSON.stringify({ listening: server.addresses }));

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, async () => {
    await server.close();
    const { totals } = await server.status();
    console.log(JSON.stringify({ stopped: signal, requests: totals.requests }));
  });
}
