// A realistic Fastify route for `npm run bench -- --app bench/apps/fastify-route.mjs --routes item`:
// POST /items/:id with a ~1 KB JSON body read by Fastify's own JSON parser, behind two hooks (a
// request id and a response-time header: Fastify's middlewares), answering a small JSON object. The
// same app as bench/apps/express-route.mjs and koa-route.mjs.
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';

const app = Fastify();
app.addHook('onRequest', (request, reply, done) => {
  reply.header('X-Request-Id', request.headers['x-request-id'] ?? randomUUID());
  done();
});
const started = Symbol('started');
app.addHook('onRequest', (request, _reply, done) => {
  request[started] = process.hrtime.bigint();
  done();
});
app.addHook('onSend', (request, reply, payload, done) => {
  reply.header('X-Response-Time', `${Number(process.hrtime.bigint() - request[started]) / 1e6}ms`);
  done(null, payload);
});
app.post('/items/:id', (request) => ({ id: request.params.id, name: request.body.name }));

export default app;
