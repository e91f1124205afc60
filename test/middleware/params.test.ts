// queryParams, parseQuery and readForm.
import { Readable } from 'node:stream';
import { parseQuery, queryParams, readForm } from '../../src/middleware/params';
import { makeEnviron, run } from '../helpers/gateway';

test('queryParams: + as space, UTF-8 percent-escapes, repeated names; parsed once', () => {
  const environ = makeEnviron({ vars: { QUERY_STRING: 'a=1&a=2&q=caf%C3%A9+au+lait' } });
  const params = queryParams(environ);
  expect(params.getAll('a')).toEqual(['1', '2']);
  expect(params.get('q')).toBe('café au lait');
  expect(queryParams(environ)).toBe(params);
});

test('parseQuery puts the parsed query in the environ before the app runs', async () => {
  let seen: unknown;
  await run(
    parseQuery()((environ, start) => {
      seen = environ['sluice.query'];
      start('200 OK', []);
      return [];
    }),
  );
  expect(seen).toBeInstanceOf(URLSearchParams);
});

const form = (body: string, type = 'application/x-www-form-urlencoded; charset=utf-8') =>
  makeEnviron({
    vars: { REQUEST_METHOD: 'POST', CONTENT_TYPE: type, CONTENT_LENGTH: String(Buffer.byteLength(body)) },
    input: Readable.from([Buffer.from(body.slice(0, 3)), Buffer.from(body.slice(3))]),
  });

test('readForm reads an url-encoded body', async () => {
  const params = await readForm(form('name=J%C3%B6rg&x=1+2'));
  expect(Object.fromEntries(params)).toEqual({ name: 'Jörg', x: '1 2' });
});

test('readForm: other content types give empty params; too large a body is ERR_FORM_TOO_LARGE (413)', async () => {
  expect([...(await readForm(form('{"a":1}', 'application/json')))]).toEqual([]);
  await expect(readForm(form('a='.padEnd(100, 'x')), { limit: 10 })).rejects.toMatchObject({
    code: 'ERR_FORM_TOO_LARGE',
    status: 413,
  });
});
