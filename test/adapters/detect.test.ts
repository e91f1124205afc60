// detectApp: the rule that tells gateway apps, Node listeners, framework instances and fetch handlers apart.
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import { detectApp, parameterNames } from '../../src/adapters/detect';

const CASES: Array<[string, unknown, string]> = [
  ['an Express app', express(), 'express'],
  ['a Koa app', new Koa(), 'koa'],
  ['a Fastify instance', Fastify(), 'fastify'],
  ['a Hono app', new Hono(), 'fetch'],
  ['a plain fetch object', { fetch: () => new Response('x') }, 'fetch'],
  ['(req, res) =>', (req: unknown, res: unknown) => [req, res], 'node'],
  [
    'function (request, response)',
    function (request: unknown, response: unknown) {
      return [request, response];
    },
    'node',
  ],
  ['async req =>', async (req: unknown) => req, 'node'],
  [
    '(environ, startResponse)',
    (environ: unknown, startResponse: unknown) => [environ, startResponse],
    'gateway',
  ],
  ['(req, start): second parameter not res', (req: unknown, start: unknown) => [req, start], 'gateway'],
  ['function app()', function app() {}, 'gateway'],
];

test.each(CASES)('%s is %s', (_name, value, kind) => {
  expect(detectApp(value)).toBe(kind);
});

test('--interface forces the interface; the shape still says how to adapt', () => {
  expect(detectApp((environ: unknown) => environ, 'node')).toBe('node');
  expect(detectApp((req: unknown) => req, 'gateway')).toBe('gateway');
  expect(detectApp((request: unknown) => request, 'fetch')).toBe('fetch');
  expect(detectApp(express(), 'node')).toBe('express');
});

test('an export matching two shapes is ERR_APP_AMBIGUOUS, naming the flags that choose', () => {
  const both = { callback: () => () => undefined, fetch: () => new Response('') };
  expect(() => detectApp(both)).toThrow(expect.objectContaining({ code: 'ERR_APP_AMBIGUOUS' }));
  expect(() => detectApp(both)).toThrow(/--interface node or --interface fetch/);
  expect(detectApp(both, 'fetch')).toBe('fetch');
  expect(detectApp(both, 'node')).toBe('koa');
});

test('an object of no known shape, or a value that is no function, is ERR_APP_NOT_FUNCTION', () => {
  expect(() => detectApp({ handler: () => undefined })).toThrow(
    expect.objectContaining({ code: 'ERR_APP_NOT_FUNCTION' }),
  );
  expect(() => detectApp(42)).toThrow(expect.objectContaining({ code: 'ERR_APP_NOT_FUNCTION' }));
  expect(() => detectApp(new Hono(), 'node')).toThrow(
    expect.objectContaining({ code: 'ERR_APP_NOT_FUNCTION' }),
  );
});

test('parameterNames reads simple parameter lists, with comments and defaults', () => {
  expect(
    parameterNames(function (/* the request */ req: unknown, _res = 1) {
      return req;
    } as never),
  ).toEqual(['req', '_res']);
  expect(parameterNames(((a: unknown) => a) as never)).toEqual(['a']);
  expect(parameterNames(async function* gen(_x: unknown) {} as never)).toEqual(['_x']);
});
