// An ordinary Hono 4 app, served by sluice without a change:
//
//   sluice serve examples/hono/app.mjs --http :8080 --fastcgi unix:/tmp/sluice-fastcgi.sock
//
// sluice recognizes the fetch-style object and serves app.fetch through the fetch adapter: a WHATWG
// Request in, a Response out. The environ is the handler's env, so c.env.REMOTE_USER and
// c.env['sluice.log'] work. Try: curl localhost:8080/ ; curl localhost:8080/hello/world
import { Hono } from 'hono';

const app = new Hono();

app.get('/', (c) => c.text(`Hello from Hono over ${c.env['sluice.protocol']}!\n`));
app.get('/hello/:name', (c) => c.json({ hello: c.req.param('name'), url: c.req.url }));

export default app;
