// A realistic Koa route for `npm run bench -- --app bench/apps/koa-route.mjs --routes item`: POST
// /items/:id with a ~1 KB JSON body, behind two middlewares (a request id and a response-time header),
// answering a small JSON object. The same app as bench/apps/express-route.mjs and fastify-route.mjs;
// Koa has no router or body parser of its own and none is installed here, so the route is matched
// with a pattern and the JSON read by a small middleware.
import { randomUUID } from 'node:crypto';
import Koa from 'koa';

const LIMIT = 100 * 1024; // express.json()'s default limit

async function jsonBody(ctx, next) {
  if (ctx.is('application/json')) {
    const chunks = [];
    let length = 0;
    for await (const chunk of ctx.req) {
      length += chunk.length;
      if (length > LIMIT) ctx.throw(413);
      chunks.push(chunk);
    }
    try {
      ctx.request.body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      ctx.throw(400, 'invalid JSON');
    }
  }
  await next();
}

const app = new Koa();
app.use(async (ctx, next) => {
  ctx.set('X-Request-Id', ctx.get('x-request-id') || randomUUID());
  await next();
});
app.use(async (ctx, next) => {
  const start = process.hrtime.bigint();
  await next();
  ctx.set('X-Response-Time', `${Number(process.hrtime.bigint() - start) / 1e6}ms`);
});
const ITEM = /^\/items\/([^/]+)$/;
app.use(async (ctx, next) => {
  const match = ctx.method === 'POST' && ITEM.exec(ctx.path);
  if (!match) return next();
  await jsonBody(ctx, async () => {
    ctx.body = { id: decodeURIComponent(match[1]), name: ctx.request.body?.name };
  });
});

export default app;
