// Koa hello world for `npm run bench -- --app bench/apps/koa-hello.mjs`: the same app behind sluice
// (Node adapter) and on node:http behind proxy_pass, answering the benchmark's 14-byte body.
import Koa from 'koa';

const app = new Koa();
app.use((ctx) => {
  ctx.type = 'text/plain';
  ctx.body = 'Hello, world!\n';
});

export default app;
