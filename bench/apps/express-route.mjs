// A realistic Express route for `npm run bench -- --app bench/apps/express-route.mjs --routes item`:
// POST /items/:id with a ~1 KB JSON body read by express.json(), behind two middlewares (a request
// id and a response-time header), answering a small JSON object. bench/apps/fastify-route.mjs and
// koa-route.mjs are the same app in the other frameworks.
import { randomUUID } from 'node:crypto';
import express from 'express';

const app = express();
app.use((req, res, next) => {
  res.setHeader('X-Request-Id', req.headers['x-request-id'] ?? randomUUID());
  next();
});
app.use((_req, res, next) => {
  // The time up to the response head, set as the head goes out (as the response-time package does).
  const start = process.hrtime.bigint();
  const writeHead = res.writeHead;
  res.writeHead = function (...args) {
    this.setHeader('X-Response-Time', `${Number(process.hrtime.bigint() - start) / 1e6}ms`);
    return writeHead.apply(this, args);
  };
  next();
});
app.post('/items/:id', express.json(), (req, res) => {
  res.json({ id: req.params.id, name: req.body.name });
});

export default app;
