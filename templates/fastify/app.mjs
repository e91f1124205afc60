// {{name}}: a Fastify app, served by sluice as it is (request.raw.environ holds the CGI variables).
// Run it with `npm start` (sluice.json), test it with `npm test`.
import Fastify from 'fastify';

const app = Fastify();

app.get('/', async (request, reply) => {
  reply.type('text/plain; charset=utf-8');
  return `Hello from {{name}} over ${request.raw.environ['sluice.protocol']}!\n`;
});

export default app;
