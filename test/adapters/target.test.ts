// What a Node or fetch app sees of the URL: REQUEST_URI as sent, or, picked by an apps map, the path
// below its prefix with Express's baseUrl and originalUrl.
import type { IncomingMessage } from 'node:http';
import { fetchApp } from '../../src/adapters/fetch';
import { nodeApp } from '../../src/adapters/node';
import { runApp } from '../../src/gateway/driver';
import type { App } from '../../src/gateway/types';
import { urlMap } from '../../src/gateway/url-map';
import { FakeTransport, makeEnviron } from '../helpers/gateway';

/** Runs `app` for REQUEST_URI `uri` (under `mount`, QUERY_STRING as a front end sends it) and parses its JSON. */
async function seen(app: App, uri: string, mount = ''): Promise<unknown> {
  const transport = new FakeTransport();
  await runApp(
    app,
    makeEnviron({
      vars: { REQUEST_URI: uri, QUERY_STRING: uri.split('?')[1] ?? '', HTTP_HOST: 'example.org' },
      signal: transport.signal,
      mount,
    }),
    transport,
  );
  expect(transport.violations).toEqual([]);
  return JSON.parse(Buffer.concat(transport.chunks).toString());
}

type Mounted = IncomingMessage & { baseUrl?: string; originalUrl?: string };

const node = nodeApp((req, res) => {
  const { url, baseUrl, originalUrl } = req as Mounted;
  res.end(JSON.stringify({ url, baseUrl: baseUrl ?? null, originalUrl: originalUrl ?? null }));
});

const fetch = fetchApp((request) => Response.json({ url: request.url }));

describe('the Node adapter', () => {
  test('alone: req.url is REQUEST_URI as sent, even under --mount', async () => {
    expect(await seen(node, '/app/a%20b?x=1', '/app')).toEqual({
      url: '/app/a%20b?x=1',
      baseUrl: null,
      originalUrl: null,
    });
  });

  test.each([
    // REQUEST_URI           mount    url                 baseUrl
    ['/api/users?x=1', '', '/users?x=1', '/api'],
    ['/api', '', '/', '/api'],
    ['/api/a%20b/../c', '', '/c', '/api'],
    ['/app/api/caf%C3%A9', '/app', '/caf%C3%A9', '/app/api'],
  ])('under /api in a map, %s (mount %j): req.url %j, baseUrl %j', async (uri, mount, url, baseUrl) => {
    expect(await seen(urlMap([{ prefix: '/api', app: node }]), uri, mount)).toEqual({
      url,
      baseUrl,
      originalUrl: uri,
    });
  });
});

describe('the fetch adapter', () => {
  test('alone: the URL holds REQUEST_URI as sent', async () => {
    expect(await seen(fetch, '/app/x?y=1', '/app')).toEqual({ url: 'http://example.org/app/x?y=1' });
  });

  test('under /api in a map: the URL holds the path below the prefix, as Hono mounting gives it', async () => {
    expect(await seen(urlMap([{ prefix: '/api', app: fetch }]), '/api/x?y=1')).toEqual({
      url: 'http://example.org/x?y=1',
    });
  });
});
