// requestId: in the environ, the response header and the request's log lines; incoming ids only when trusted.
import { runApp } from '../../src/gateway/driver';
import { requestId } from '../../src/middleware/request-id';
import type { App } from '../../src/gateway/types';
import { FakeTransport, makeEnviron, recordingLogger } from '../helpers/gateway';

async function serve(options: Parameters<typeof requestId>[0], incoming?: string) {
  const { log, lines } = recordingLogger();
  const transport = new FakeTransport();
  const environ = makeEnviron({
    vars: incoming === undefined ? {} : { HTTP_X_REQUEST_ID: incoming },
    signal: transport.signal,
    log,
  });
  let id: unknown;
  const app: App = (env, start) => {
    id = env['sluice.request_id'];
    env['sluice.log'].info('inside');
    start('200 OK', []);
    return ['x'];
  };
  await runApp(requestId(options)(app), environ, transport);
  const head = transport.calls[0];
  return {
    id,
    headers: head.type === 'head' ? head.headers : [],
    line: lines.find((l) => l.msg === 'inside'),
  };
}

test('a new id per request: environ, X-Request-Id header, requestId on log lines', async () => {
  const { id, headers, line } = await serve({});
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  expect(headers).toContainEqual(['X-Request-Id', id]);
  expect(line).toMatchObject({ requestId: id });
});

test('an incoming id is kept only when trusted and harmless', async () => {
  expect((await serve({}, 'from-client')).id).not.toBe('from-client');
  expect((await serve({ trustIncoming: true }, 'abc-123')).id).toBe('abc-123');
  expect((await serve({ trustIncoming: true }, 'bad id with spaces')).id).not.toBe('bad id with spaces');
});
