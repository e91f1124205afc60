// An ordinary Fastify 5 app, served by sluice without a change:
//
//   sluice serve examples/fastify/app.mjs --http :8080 --fastcgi unix:/tmp/sluice-fastcgi.sock
//
// sluice recognizes the Fastify instance (routing and ready()), waits for ready() before the first
// request and serves it through the Node adapter; request.raw.environ holds the CGI variables.
// Try: curl localhost:8080/ ; curl -d '{"name":"sluice"}' -H 'Content-Type: application/json' localhost:8080/greet
import Fastify from 'fastify';

const app = Fastify();

app.get('/', async (request) => ({ hello: 'from Fastify', via: request.raw.environ['sluice.protocol'] }));

app.post(
  '/greet',
  { schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } } },
  async (request) => ({ greeting: `Hello, ${request.body.name}!` }),
);

export default app;
