// Express hello world for `npm run bench -- --app bench/apps/express-hello.mjs`: the same app behind
// sluice (Node adapter) and on node:http behind proxy_pass, answering the benchmark's 14-byte body.
import express from 'express';

const app = express();
app.get('/', (_req, res) => {
  res.type('text/plain').send('Hello, world!\n');
});

export default app;
