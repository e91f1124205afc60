// Fastify hello world for `npm run bench -- --app bench/apps/fastify-hello.mjs`: the same app behind
// sluice (Node adapter) and on node:http behind proxy_pass, answering the benchmark's 14-byte body.
import Fastify from 'fastify';

const app = Fastify();
app.get('/', (_request, reply) => {
  reply.type('text/plain').send('Hello, world!\n');
});

export default app;
