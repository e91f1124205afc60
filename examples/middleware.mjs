// Middleware as the seeds describe it: wrappers around an app, composed in the order written.
import { compose } from 'sluice';

function hello(environ, startResponse) {
  if (environ.PATH_INFO === '/fail') throw new Error('failing on purpose');
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return ['Hello, World!\n'];
}

/** The seeds' LowercaseMiddleware: rewrites the body on its way out. */
const lowercase = (app) =>
  async function* lowercased(environ, startResponse) {
    for await (const chunk of await app(environ, startResponse)) {
      yield (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()).toLowerCase();
    }
  };

/** Answers errors itself while nothing has been sent; startResponse with excInfo replaces the status. */
const catchErrors = (app) =>
  async function* caught(environ, startResponse) {
    try {
      yield* await app(environ, startResponse);
    } catch (error) {
      environ['sluice.log'].warn({ err: error }, 'handled by catchErrors');
      // Rethrows when the head already went out: the daemon then ends the response as broken.
      startResponse('503 Service Unavailable', [['Content-Type', 'text/plain']], error);
      yield 'Sorry, try again later.\n';
    }
  };

export default compose(hello, catchErrors, lowercase);
