// compose: middleware order (first listed is outermost) and how request and response pass through.
import { compose } from '../../src/gateway/compose';
import type { App, Middleware } from '../../src/gateway/types';
import { run } from '../helpers/gateway';

/** A middleware that records when the request enters it and when the body it got back is iterated. */
function tracing(name: string, trace: string[]): Middleware {
  return (app) =>
    async function* traced(environ, startResponse) {
      trace.push(`${name} in`);
      for await (const chunk of await app(environ, startResponse)) yield `${name}(${String(chunk)})`;
      trace.push(`${name} out`);
    };
}

function endpoint(trace: string[]): App {
  return (_environ, startResponse) => {
    trace.push('app');
    startResponse('200 OK', []);
    return ['body'];
  };
}

function bodyOf(calls: Awaited<ReturnType<typeof run>>['calls']): string {
  return calls
    .map((call) => (call.type === 'head' ? (call.first ?? '') : call.type === 'body' ? call.data : ''))
    .join('');
}

describe('compose', () => {
  const cases: Array<{ name: string; layers: string[]; trace: string[]; body: string }> = [
    { name: 'no middleware', layers: [], trace: ['app'], body: 'body' },
    { name: 'one middleware', layers: ['a'], trace: ['a in', 'app', 'a out'], body: 'a(body)' },
    {
      name: 'first listed is outermost',
      layers: ['a', 'b'],
      trace: ['a in', 'b in', 'app', 'b out', 'a out'],
      body: 'a(b(body))',
    },
    {
      name: 'three layers in the order written',
      layers: ['a', 'b', 'c'],
      trace: ['a in', 'b in', 'c in', 'app', 'c out', 'b out', 'a out'],
      body: 'a(b(c(body)))',
    },
  ];

  test.each(cases)('$name', async ({ layers, trace, body }) => {
    const seen: string[] = [];
    const app = compose(endpoint(seen), ...layers.map((name) => tracing(name, seen)));
    const transport = await run(app);
    expect(seen).toEqual(trace);
    expect(bodyOf(transport.calls)).toBe(body);
  });

  test('with no middleware the app itself is returned', () => {
    const app = endpoint([]);
    expect(compose(app)).toBe(app);
  });

  test('each middleware is applied once, innermost first', () => {
    const applied: string[] = [];
    const wrap =
      (name: string): Middleware =>
      (app) => {
        applied.push(name);
        return app;
      };
    compose(endpoint([]), wrap('a'), wrap('b'), wrap('c'));
    expect(applied).toEqual(['c', 'b', 'a']);
  });

  test('environ changes flow inward: each middleware sees what the outer ones set', async () => {
    const seen: Array<[string, unknown]> = [];
    const tag =
      (name: string): Middleware =>
      (app) =>
      (environ, startResponse) => {
        seen.push([name, environ['x.tags']]);
        environ['x.tags'] = [...((environ['x.tags'] as string[] | undefined) ?? []), name];
        return app(environ, startResponse);
      };
    await run(compose(endpoint([]), tag('a'), tag('b')));
    expect(seen).toEqual([
      ['a', undefined],
      ['b', ['a']],
    ]);
  });

  test('an outer middleware can replace the status of an inner failure through excInfo', async () => {
    const failing: App = () => {
      throw new Error('inner failure');
    };
    const recover: Middleware = (app) => (environ, startResponse) => {
      try {
        return app(environ, startResponse);
      } catch (error) {
        startResponse('503 Service Unavailable', [], error);
        return ['retry later'];
      }
    };
    const transport = await run(compose(failing, recover));
    expect(transport.calls).toEqual([
      { type: 'head', status: '503 Service Unavailable', headers: [], first: 'retry later' },
      { type: 'end' },
    ]);
  });
});
