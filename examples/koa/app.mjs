// An ordinary Koa 3 app, served by sluice without a change:
//
//   sluice serve examples/koa/app.mjs --http :8080 --scgi unix:/tmp/sluice-scgi.sock
//
// sluice recognizes the Koa app (an object with callback()) and serves app.callback() through the Node
// adapter. ctx.req.environ holds the CGI variables the front end sent. Try: curl localhost:8080/ ;
// curl localhost:8080/count
import { Readable } from 'node:stream';
import Koa from 'koa';

const app = new Koa();

app.use(async (ctx) => {
  if (ctx.path === '/count') {
    ctx.type = 'text/plain';
    ctx.body = Readable.from(['1\n', '2\n', '3\n']);
    return;
  }
  ctx.body = { hello: 'from Koa', remote: ctx.ip, via: ctx.req.environ['sluice.protocol'] };
});

export default app;
