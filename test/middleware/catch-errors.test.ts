// catchErrors: 500 while the head is unsent, the error propagated once it went out, a debug page on request.
import { catchErrors } from '../../src/middleware/catch-errors';
import type { App } from '../../src/gateway/types';
import { run } from '../helpers/gateway';

const TEXT: Array<[string, string]> = [['Content-Type', 'text/plain']];

test('an app throwing before its head: the plain 500, no stack', async () => {
  const transport = await run(
    catchErrors()(() => {
      throw new Error('secret detail');
    }),
  );
  expect(transport.calls[0]).toMatchObject({ type: 'head', status: '500 Internal Server Error' });
  expect(Buffer.concat(transport.chunks).toString()).toBe('Internal Server Error\n');
});

test('an error while the body is iterated, before any chunk: the status is replaced (excInfo)', async () => {
  const app: App = async function* (_environ, startResponse) {
    startResponse('200 OK', TEXT);
    yield '';
    throw new Error('late');
  };
  const transport = await run(catchErrors()(app));
  expect(transport.calls[0]).toMatchObject({ status: '500 Internal Server Error' });
});

test('an error after the head went out propagates: the response is cut short, not completed', async () => {
  const app: App = async function* (_environ, startResponse) {
    startResponse('200 OK', TEXT);
    yield 'partial';
    throw new Error('mid-body');
  };
  const transport = await run(catchErrors()(app));
  expect(transport.calls.map((c) => c.type)).toEqual(['head', 'abort']);
});

test('debug: an HTML page with the message, the stack and escaped variables', async () => {
  const transport = await run(
    catchErrors({ debug: true })(() => {
      throw new TypeError('bad <thing>');
    }),
  );
  const page = Buffer.concat(transport.chunks).toString();
  expect(transport.calls[0]).toMatchObject({ status: '500 Internal Server Error' });
  expect(page).toContain('TypeError: bad &#60;thing&#62;');
  expect(page).toContain('catch-errors.test.ts');
  expect(page).toContain('REQUEST_METHOD');
});

test('a whole body passes untouched, its length still known', async () => {
  const transport = await run(
    catchErrors()((_e, start) => {
      start('200 OK', TEXT);
      return ['ok'];
    }),
  );
  expect(transport.calls).toEqual([
    { type: 'head', status: '200 OK', headers: TEXT, first: 'ok' },
    { type: 'end' },
  ]);
});
