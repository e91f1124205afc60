// Fastify hello world for `node bench/adapter-cpu.mjs --app bench/apps/fastify-hello.mjs`: the same app
// behind sluice (Node adapter) and on node:http (fastify.routing), answering the benchmark's 14 bytes.
import Fastify from 'fastify';

const app = Fastify();
app.get('/', (_request, reply) => {
  reply.type('text/plain').send('Hello, world!\n');
});

export default app;
