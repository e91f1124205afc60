// The middleware toolkit around one small gateway app:
//
//   sluice serve examples/toolkit.mjs --http :8080
//
//   curl -i localhost:8080/?name=you                        query parsing, a request id, an access log line
//   curl -i -H 'Accept-Encoding: gzip' localhost:8080/long  compressed (Content-Encoding: gzip)
//   curl -i -d 'name=Jörg' localhost:8080/form              form parsing
//   curl -i localhost:8080/fail                             the error catcher's 500 (a debug page with --debug)
import {
  accessLog,
  catchErrors,
  compose,
  compress,
  parseQuery,
  queryParams,
  readForm,
  requestId,
} from 'sluice';

async function app(environ, startResponse) {
  const text = [['Content-Type', 'text/plain; charset=utf-8']];
  switch (environ.PATH_INFO) {
    case '/long':
      startResponse('200 OK', text);
      return ['All work and no play makes Jack a dull boy.\n'.repeat(200)];
    case '/form': {
      const form = await readForm(environ);
      startResponse('200 OK', text);
      return [`Hello, ${form.get('name') ?? 'nobody'}!\n`];
    }
    case '/fail':
      throw new Error('this route fails on purpose');
    default:
      startResponse('200 OK', text);
      return [
        `Hello, ${queryParams(environ).get('name') ?? 'world'}! (request ${environ['sluice.request_id']})\n`,
      ];
  }
}

// Outermost first: the access log sees what the client gets, the error catcher's 500 included.
export default compose(
  app,
  accessLog({ format: 'combined' }),
  requestId(),
  catchErrors(),
  compress(),
  parseQuery(),
);
