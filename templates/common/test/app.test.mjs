// The app over sluice's own HTTP listener on a free port: no front end needed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { serve } from 'sluice';
import app from '../app.mjs';

let server;
let base;

before(async () => {
  server = await serve(app, { http: ['127.0.0.1:0'] });
  base = `http://127.0.0.1:${server.addresses[0].port}`;
});

after(() => server.close());

test('GET / says hello', async () => {
  const response = await fetch(`${base}/`);
  assert.equal(response.status, 200);
  assert.match(await response.text(), /^Hello from {{name}} over http!/);
});

test('an unknown path is a 404', async () => {
  const response = await fetch(`${base}/no-such-page`);
  assert.equal(response.status, 404);
});
