// runApp against a fake transport: body shapes, the lazy head, start_response rules, errors, abort, close().
import { Readable } from 'node:stream';
import { runApp } from '../../src/gateway/driver';
import type { App, Body, Chunk, HeaderList, StartResponse, WriteFn } from '../../src/gateway/types';
import {
  FakeTransport,
  INTERNAL_ERROR,
  LEVEL,
  deferred,
  makeEnviron,
  recordingLogger,
  run,
  settle,
  type TransportCall,
} from '../helpers/gateway';

const TEXT: HeaderList = [['Content-Type', 'text/plain']];

/** An app that starts a 200 text/plain response and returns `body()`. */
function ok(body: () => Body | Promise<Body>, status = '200 OK'): App {
  return (_environ, startResponse) => {
    startResponse(status, TEXT);
    return body();
  };
}

function head(first: string | null, status = '200 OK', headers: HeaderList = TEXT): TransportCall {
  return { type: 'head', status, headers, first };
}

/** A body object with close(), counting the calls; iterates `chunks`. */
function closable(chunks: Iterable<Chunk> | AsyncIterable<Chunk>): Body & { closed: number } {
  const body = {
    closed: 0,
    close(): void {
      body.closed += 1;
    },
  };
  const key = Symbol.asyncIterator in chunks ? Symbol.asyncIterator : Symbol.iterator;
  const iterate = (chunks as unknown as Record<symbol, () => Iterator<Chunk> | AsyncIterator<Chunk>>)[key];
  return Object.assign(body, { [key]: () => iterate.call(chunks) }) as unknown as Body & { closed: number };
}

/** A body that yields nothing and runs `task` while it is iterated: an app that only uses write(). */
function writing(task: () => Promise<void>): AsyncIterable<Chunk> {
  return {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<Chunk>> => {
        await task();
        return { done: true, value: undefined };
      },
    }),
  };
}

/** Where the app body comes from, in every shape the contract allows: all send "ab" as 'a' then 'b'. */
describe('body shapes', () => {
  const twoChunks: TransportCall[] = [head('a'), { type: 'body', data: 'b' }, { type: 'end' }];
  const cases: Array<{ name: string; app: App; calls?: TransportCall[] }> = [
    { name: 'array of strings', app: ok(() => ['a', 'b']) },
    { name: 'array of Uint8Arrays', app: ok(() => [new Uint8Array([0x61]), new Uint8Array([0x62])]) },
    { name: 'array of Buffers', app: ok(() => [Buffer.from('a'), Buffer.from('b')]) },
    {
      name: 'sync generator',
      app: ok(function* () {
        yield 'a';
        yield 'b';
      }),
    },
    {
      name: 'async generator',
      app: ok(async function* () {
        yield 'a';
        await settle();
        yield 'b';
      }),
    },
    { name: 'promise of an array', app: ok(async () => ['a', 'b']) },
    {
      name: 'promise of an async generator',
      app: ok(async () =>
        (async function* () {
          yield 'a';
          yield 'b';
        })(),
      ),
    },
    { name: 'Set of chunks (any iterable)', app: ok(() => new Set(['a', 'b'])) },
    { name: 'empty chunks skipped', app: ok(() => ['', 'a', new Uint8Array(0), '', 'b', '']) },
    { name: 'bare string is one chunk', app: ok(() => 'ab'), calls: [head('ab'), { type: 'end' }] },
    {
      name: 'bare Uint8Array is one chunk',
      app: ok(() => new Uint8Array([0x61, 0x62])),
      calls: [head('ab'), { type: 'end' }],
    },
    { name: 'promise of a bare string', app: ok(async () => 'ab'), calls: [head('ab'), { type: 'end' }] },
    {
      name: 'empty array: head at the end, no body',
      app: ok(() => []),
      calls: [head(null), { type: 'end' }],
    },
    {
      name: 'empty string: head at the end, no body',
      app: ok(() => ''),
      calls: [head(null), { type: 'end' }],
    },
    {
      name: 'write() then an empty body',
      app: (_environ, startResponse) => {
        const write = startResponse('200 OK', TEXT);
        void write('a');
        void write('b');
        return [];
      },
    },
    {
      name: 'write() then the returned body',
      app: (_environ, startResponse) => {
        void startResponse('200 OK', TEXT)('a');
        return ['b'];
      },
    },
  ];

  test.each(cases)('$name', async ({ app, calls }) => {
    const transport = await run(app);
    expect(transport.calls).toEqual(calls ?? twoChunks);
    expect(transport.violations).toEqual([]);
  });
});

describe('Readable stream body', () => {
  test('is read to its end', async () => {
    const transport = await run(ok(() => Readable.from(['a', 'b'])));
    expect(transport.calls).toEqual([head('a'), { type: 'body', data: 'b' }, { type: 'end' }]);
  });

  test('is destroyed when the request is aborted mid-stream', async () => {
    const transport = new FakeTransport({ backpressure: true });
    const stream = Readable.from(['a', 'b', 'c']);
    const done = run(
      ok(() => stream),
      { transport },
    );
    await settle();
    transport.abortRequest();
    await done;
    await settle();
    expect(stream.destroyed).toBe(true);
    expect(transport.calls).toEqual([head('a')]);
  });

  test('a stream error after the head aborts the transport', async () => {
    const stream = new Readable({ read: () => undefined });
    stream.push('a');
    const transport = new FakeTransport();
    const done = run(
      ok(() => stream),
      { transport },
    );
    await settle();
    stream.destroy(new Error('disk gone'));
    await done;
    expect(transport.calls).toEqual([head('a'), { type: 'abort', error: new Error('disk gone') }]);
  });
});

describe('chunk encoding', () => {
  const cases: Array<{ name: string; chunk: Chunk; bytes: number[] }> = [
    { name: 'string as UTF-8', chunk: 'é€', bytes: [0xc3, 0xa9, 0xe2, 0x82, 0xac] },
    {
      name: 'Uint8Array view keeps only its window',
      chunk: new Uint8Array([1, 2, 3, 4, 5]).subarray(1, 3),
      bytes: [2, 3],
    },
    {
      name: 'Buffer view keeps only its window',
      chunk: Buffer.from([9, 8, 7, 6]).subarray(2),
      bytes: [7, 6],
    },
    {
      name: 'bytes above 0x7f untouched',
      chunk: new Uint8Array([0x00, 0xff, 0x80]),
      bytes: [0x00, 0xff, 0x80],
    },
  ];

  test.each(cases)('$name', async ({ chunk, bytes }) => {
    const transport = await run(ok(() => [chunk]));
    expect(transport.chunks.map((c) => [...c])).toEqual([bytes]);
  });
});

describe('lazy head', () => {
  test('nothing is sent until the first non-empty chunk', async () => {
    const transport = new FakeTransport();
    const seen: TransportCall[][] = [];
    await run(
      ok(async function* () {
        seen.push([...transport.calls]);
        yield '';
        seen.push([...transport.calls]);
        yield 'x';
      }),
      { transport },
    );
    expect(seen).toEqual([[], []]);
    expect(transport.calls).toEqual([head('x'), { type: 'end' }]);
  });

  test('startResponse alone sends nothing', async () => {
    const transport = new FakeTransport();
    const gate = deferred<Body>();
    const done = run(
      ok(() => gate.promise),
      { transport },
    );
    await settle();
    expect(transport.calls).toEqual([]);
    gate.resolve([]);
    await done;
    expect(transport.calls).toEqual([head(null), { type: 'end' }]);
  });

  test('head and first chunk go out in one sendHead', async () => {
    const transport = await run(ok(() => ['first', 'second', 'third']));
    expect(transport.calls).toEqual([
      head('first'),
      { type: 'body', data: 'second' },
      { type: 'body', data: 'third' },
      { type: 'end' },
    ]);
  });

  test('head carries the headers as given, repeats and order kept', async () => {
    const headers: HeaderList = [
      ['Set-Cookie', 'a=1'],
      ['Content-Type', 'text/html'],
      ['Set-Cookie', 'b=2'],
    ];
    const transport = await run((_environ, startResponse) => {
      startResponse('201 Created', headers);
      return ['x'];
    });
    expect(transport.calls[0]).toEqual(head('x', '201 Created', headers));
  });
});

describe('write()', () => {
  test('returns a promise that resolves when the transport takes the chunk', async () => {
    const transport = new FakeTransport({ backpressure: true });
    const states: string[] = [];
    const done = run(
      (_environ, startResponse) => {
        const write = startResponse('200 OK', TEXT);
        const first = write('a');
        let resolved = false;
        void first.then(() => (resolved = true));
        return writing(async () => {
          await settle();
          states.push(`before release: ${resolved}`);
          transport.release();
          await first;
          states.push(`after release: ${resolved}`);
        });
      },
      { transport },
    );
    await done;
    expect(states).toEqual(['before release: false', 'after release: true']);
    expect(transport.calls).toEqual([head('a'), { type: 'end' }]);
  });

  test('an empty write sends the head at once, with no body (PEP 3333: the first write() call)', async () => {
    let write: WriteFn | undefined;
    let before: string[] = [];
    const transport = new FakeTransport();
    await run(
      (_environ, startResponse) => {
        write = startResponse('200 OK', TEXT);
        return writing(async () => {
          await write!('');
          await write!('');
          before = transport.calls.map((call) => call.type);
        });
      },
      { transport },
    );
    expect(before).toEqual(['head']);
    expect(transport.calls).toEqual([head(null), { type: 'end' }]);
  });

  test('rejects with ERR_GATEWAY_ABORTED after the request was aborted', async () => {
    const transport = new FakeTransport();
    const rejection = deferred<unknown>();
    await run(
      (_environ, startResponse) => {
        const write = startResponse('200 OK', TEXT);
        transport.abortRequest();
        write('late').then(
          () => rejection.resolve('resolved'),
          (error: unknown) => rejection.resolve(error),
        );
        return [];
      },
      { transport },
    );
    expect(await rejection.promise).toMatchObject({ code: 'ERR_GATEWAY_ABORTED' });
    expect(transport.calls).toEqual([]);
  });

  // Regression: a write() kept past the end reached transport.sendBody after end().
  const afterEnd: Array<{ name: string; body: () => Body; calls: TransportCall[] }> = [
    { name: 'a complete response', body: () => ['a'], calls: [head('a'), { type: 'end' }] },
    {
      name: 'a 500',
      body: () => {
        throw new Error('boom');
      },
      calls: INTERNAL_ERROR,
    },
    {
      name: 'an aborted response',
      body: function* () {
        yield 'a';
        throw new Error('boom');
      },
      calls: [head('a'), { type: 'abort', error: new Error('boom') }],
    },
  ];

  test.each(afterEnd)('after $name rejects with ERR_GATEWAY_WRITE_AFTER_END', async ({ body, calls }) => {
    let write: WriteFn | undefined;
    const transport = await run((_environ, startResponse) => {
      write = startResponse('200 OK', TEXT);
      return body();
    });
    await expect(write!('late')).rejects.toMatchObject({ code: 'ERR_GATEWAY_WRITE_AFTER_END' });
    expect(transport.calls).toEqual(calls);
    expect(transport.violations).toEqual([]);
  });

  test('a bad chunk makes the promise reject with ERR_GATEWAY_BAD_CHUNK', async () => {
    let error: unknown;
    await run((_environ, startResponse) => {
      const write = startResponse('200 OK', TEXT);
      return writing(async () => {
        await write(42 as unknown as Chunk).catch((e: unknown) => (error = e));
      });
    });
    expect(error).toMatchObject({ code: 'ERR_GATEWAY_BAD_CHUNK' });
  });
});

describe('backpressure', () => {
  test('the body is not pulled again until the transport drains', async () => {
    const transport = new FakeTransport({ backpressure: true });
    let pulled = 0;
    const done = run(
      ok(function* () {
        for (const chunk of ['a', 'b', 'c']) {
          pulled += 1;
          yield chunk;
        }
      }),
      { transport },
    );
    const observed: Array<[number, number]> = [];
    for (let i = 0; i < 3; i++) {
      await settle();
      observed.push([pulled, transport.calls.length]);
      transport.release();
    }
    await done;
    expect(observed).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    expect(transport.calls).toEqual([
      head('a'),
      { type: 'body', data: 'b' },
      { type: 'body', data: 'c' },
      { type: 'end' },
    ]);
  });
});

describe('startResponse', () => {
  test('a second call without excInfo throws ERR_GATEWAY_START_TWICE and keeps the first status', async () => {
    let error: unknown;
    const transport = await run((_environ, startResponse) => {
      startResponse('200 OK', TEXT);
      try {
        startResponse('404 Not Found', []);
      } catch (e) {
        error = e;
      }
      return ['x'];
    });
    expect(error).toMatchObject({ code: 'ERR_GATEWAY_START_TWICE' });
    expect(transport.calls).toEqual([head('x'), { type: 'end' }]);
  });

  test('a second call without excInfo, left uncaught, is a 500', async () => {
    const { log, lines } = recordingLogger();
    const transport = await run(
      (_environ, startResponse) => {
        startResponse('200 OK', TEXT);
        startResponse('404 Not Found', []);
        return ['x'];
      },
      { log },
    );
    expect(transport.calls).toEqual(INTERNAL_ERROR);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: LEVEL.error, code: 'ERR_GATEWAY_START_TWICE' }),
    );
  });

  test('a call with excInfo before the head went out replaces status and headers', async () => {
    const transport = await run((_environ, startResponse) => {
      startResponse('200 OK', TEXT);
      startResponse('503 Service Unavailable', [['Retry-After', '5']], new Error('backend down'));
      return ['busy'];
    });
    expect(transport.calls).toEqual([
      head('busy', '503 Service Unavailable', [['Retry-After', '5']]),
      { type: 'end' },
    ]);
  });

  test('a first call with excInfo is an ordinary start', async () => {
    const transport = await run((_environ, startResponse) => {
      startResponse('500 Oops', [], new Error('handled'));
      return ['x'];
    });
    expect(transport.calls).toEqual([head('x', '500 Oops', []), { type: 'end' }]);
  });

  test('a call with excInfo after the head went out rethrows excInfo', async () => {
    const excInfo = new Error('mid-stream failure');
    let thrown: unknown;
    const transport = await run((_environ, startResponse) => {
      const write = startResponse('200 OK', TEXT);
      return writing(async () => {
        await write('partial');
        try {
          startResponse('500 Internal Server Error', [], excInfo);
        } catch (e) {
          thrown = e;
        }
      });
    });
    expect(thrown).toBe(excInfo);
    expect(transport.calls).toEqual([head('partial'), { type: 'end' }]);
  });

  test('excInfo rethrown after the head, left uncaught, aborts the response with it', async () => {
    const excInfo = new Error('mid-stream failure');
    const transport = await run((_environ, startResponse) => {
      const write = startResponse('200 OK', TEXT);
      return writing(async () => {
        await write('partial');
        startResponse('500 Internal Server Error', [], excInfo);
      });
    });
    expect(transport.calls).toEqual([head('partial'), { type: 'abort', error: excInfo }]);
    expect((transport.calls[1] as { error: Error }).error).toBe(excInfo);
  });

  test('an invalid replacement status throws ERR_GATEWAY_BAD_STATUS and keeps the first', async () => {
    let error: unknown;
    const transport = await run((_environ, startResponse) => {
      startResponse('200 OK', TEXT);
      try {
        startResponse('oops', [], new Error('handled'));
      } catch (e) {
        error = e;
      }
      return ['x'];
    });
    expect(error).toMatchObject({ code: 'ERR_GATEWAY_BAD_STATUS' });
    expect(transport.calls).toEqual([head('x'), { type: 'end' }]);
  });
});

/** Every invalid head the app can pass: each becomes a 500 with a short plain body, and is logged. */
describe('invalid head becomes a logged 500', () => {
  const cases: Array<{ name: string; status: unknown; headers: unknown; code: string }> = [
    { name: 'status without reason', status: '200', headers: [], code: 'ERR_GATEWAY_BAD_STATUS' },
    { name: 'status without code', status: 'OK', headers: [], code: 'ERR_GATEWAY_BAD_STATUS' },
    { name: 'status code 999', status: '999 x', headers: [], code: 'ERR_GATEWAY_BAD_STATUS' },
    {
      name: 'status with CRLF',
      status: '200 OK\r\nX-Injected: 1',
      headers: [],
      code: 'ERR_GATEWAY_BAD_STATUS',
    },
    { name: 'status with LF', status: '200 OK\n', headers: [], code: 'ERR_GATEWAY_BAD_STATUS' },
    { name: 'status as number', status: 200, headers: [], code: 'ERR_GATEWAY_BAD_STATUS' },
    {
      name: 'header name with CR',
      status: '200 OK',
      headers: [['X\r', 'v']],
      code: 'ERR_GATEWAY_BAD_HEADER',
    },
    {
      name: 'header value with CRLF',
      status: '200 OK',
      headers: [['X', 'a\r\nB: c']],
      code: 'ERR_GATEWAY_BAD_HEADER',
    },
    {
      name: 'header value with NUL',
      status: '200 OK',
      headers: [['X', 'a\0b']],
      code: 'ERR_GATEWAY_BAD_HEADER',
    },
    {
      name: 'header name with space',
      status: '200 OK',
      headers: [['X Y', 'v']],
      code: 'ERR_GATEWAY_BAD_HEADER',
    },
    {
      name: 'non-string header value',
      status: '200 OK',
      headers: [['Content-Length', 5]],
      code: 'ERR_GATEWAY_BAD_HEADER',
    },
    {
      name: 'Status header',
      status: '200 OK',
      headers: [['Status', '404 Not Found']],
      code: 'ERR_GATEWAY_BAD_HEADER',
    },
    {
      name: 'headers not an array',
      status: '200 OK',
      headers: { 'X-A': 'b' },
      code: 'ERR_GATEWAY_BAD_HEADER',
    },
  ];

  test.each(cases)('$name: $code', async ({ status, headers, code }) => {
    const { log, lines } = recordingLogger();
    const transport = await run(
      (_environ, startResponse) => {
        startResponse(status as string, headers as HeaderList);
        return ['never sent'];
      },
      { log },
    );
    expect(transport.calls).toEqual(INTERNAL_ERROR);
    expect(lines).toContainEqual(expect.objectContaining({ level: LEVEL.error, code }));
  });
});

describe('errors', () => {
  const error = new Error('app failure with a secret');
  const cases: Array<{ name: string; app: App; calls: TransportCall[]; code?: string }> = [
    {
      name: 'sync throw before startResponse is a 500',
      app: () => {
        throw error;
      },
      calls: INTERNAL_ERROR,
    },
    {
      name: 'sync throw after startResponse, before the head went out, is a 500',
      app: (_environ, startResponse) => {
        startResponse('200 OK', TEXT);
        throw error;
      },
      calls: INTERNAL_ERROR,
    },
    {
      name: 'rejected promise is a 500',
      app: async () => {
        throw error;
      },
      calls: INTERNAL_ERROR,
    },
    {
      name: 'iterator throwing before the first chunk is a 500',
      app: ok(function* () {
        yield '';
        throw error;
      }),
      calls: INTERNAL_ERROR,
    },
    {
      name: 'iterator throwing after the first chunk aborts the transport',
      app: ok(function* () {
        yield 'partial';
        throw error;
      }),
      calls: [head('partial'), { type: 'abort', error }],
    },
    {
      name: 'async iterator rejecting after the first chunk aborts the transport',
      app: ok(async function* () {
        yield 'partial';
        await settle();
        throw error;
      }),
      calls: [head('partial'), { type: 'abort', error }],
    },
    {
      name: 'non-Error thrown after the head aborts with an Error',
      app: ok(function* () {
        yield 'partial';
        throw 'a string';
      }),
      calls: [head('partial'), { type: 'abort', error: new Error('a string') }],
    },
    {
      name: 'bad chunk before the head is a 500',
      app: ok(() => [42 as unknown as Chunk]),
      calls: INTERNAL_ERROR,
      code: 'ERR_GATEWAY_BAD_CHUNK',
    },
    {
      name: 'bad chunk after the head aborts the transport',
      app: ok(function* () {
        yield 'partial';
        yield null as unknown as Chunk;
      }),
      calls: [
        head('partial'),
        { type: 'abort', error: expect.objectContaining({ code: 'ERR_GATEWAY_BAD_CHUNK' }) },
      ],
      code: 'ERR_GATEWAY_BAD_CHUNK',
    },
    {
      // An array is checked whole before anything is sent, so its bad chunk is still a clean 500.
      name: 'bad chunk in an array body is a 500 before the head',
      app: ok(() => ['partial', null as unknown as Chunk]),
      calls: [
        {
          type: 'head',
          status: '500 Internal Server Error',
          headers: expect.anything(),
          first: 'Internal Server Error\n',
        },
        { type: 'end' },
      ],
      code: 'ERR_GATEWAY_BAD_CHUNK',
    },
    ...[
      ['undefined', undefined],
      ['null', null],
      ['a number', 7],
      ['a plain object', {}],
      ['a promise of undefined', Promise.resolve(undefined)],
    ].map(([what, body]) => ({
      name: `returning ${what} is a 500`,
      app: ok(() => body as Body),
      calls: INTERNAL_ERROR,
      code: 'ERR_GATEWAY_BAD_BODY',
    })),
    {
      name: 'never calling startResponse is a 500',
      app: () => [],
      calls: INTERNAL_ERROR,
      code: 'ERR_GATEWAY_NOT_STARTED',
    },
    {
      name: 'a body chunk before startResponse is a 500',
      app: () => ['x'],
      calls: INTERNAL_ERROR,
      code: 'ERR_GATEWAY_NOT_STARTED',
    },
    {
      name: 'an empty body chunk before startResponse is a 500',
      app: () => [''],
      calls: INTERNAL_ERROR,
      code: 'ERR_GATEWAY_NOT_STARTED',
    },
    {
      name: 'a bare string without startResponse is a 500',
      app: () => 'x',
      calls: INTERNAL_ERROR,
      code: 'ERR_GATEWAY_NOT_STARTED',
    },
    {
      name: 'startResponse called only after the body was returned is a 500',
      app: (_environ, startResponse) => {
        return (function* () {
          yield 'x';
          startResponse('200 OK', TEXT);
        })();
      },
      calls: INTERNAL_ERROR,
      code: 'ERR_GATEWAY_NOT_STARTED',
    },
  ];

  test.each(cases)('$name', async ({ app, calls, code }) => {
    const { log, lines } = recordingLogger();
    const transport = await run(app, { log });
    expect(transport.calls).toEqual(calls);
    expect(transport.violations).toEqual([]);
    const errors = lines.filter((line) => line.level === LEVEL.error);
    expect(errors).toHaveLength(1);
    if (code !== undefined) expect(errors[0].code).toBe(code);
  });

  test('the 500 body is short and carries neither message nor stack', async () => {
    const transport = await run(() => {
      throw error;
    });
    const body = transport.chunks.map((c) => c.toString()).join('');
    expect(body).toBe('Internal Server Error\n');
    expect(body).not.toContain(error.message);
    expect(body).not.toContain('at ');
  });

  test('the error logged is the one the app threw', async () => {
    const { log, lines } = recordingLogger();
    await run(
      () => {
        throw error;
      },
      { log },
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ err: expect.objectContaining({ message: error.message }) }),
    );
  });

  test('a 500 on a HEAD request has no body', async () => {
    const transport = await run(
      () => {
        throw error;
      },
      { method: 'HEAD' },
    );
    expect(transport.calls).toEqual([{ ...INTERNAL_ERROR[0], first: null }, { type: 'end' }]);
  });
});

/** RFC 9110 §6.4.1: the head goes out, the body does not. */
describe('responses without a body', () => {
  const cases: Array<{ name: string; method: string; status: string }> = [
    { name: 'HEAD 200', method: 'HEAD', status: '200 OK' },
    { name: 'HEAD 404', method: 'HEAD', status: '404 Not Found' },
    { name: 'GET 204', method: 'GET', status: '204 No Content' },
    { name: 'GET 304', method: 'GET', status: '304 Not Modified' },
    { name: 'POST 204', method: 'POST', status: '204 No Content' },
  ];

  test.each(cases)('$name: returned body dropped', async ({ method, status }) => {
    const transport = await run(
      ok(() => ['abc', 'def'], status),
      { method },
    );
    expect(transport.calls).toEqual([head(null, status), { type: 'end' }]);
  });

  test.each(cases)('$name: written body dropped', async ({ method, status }) => {
    const transport = await run(
      (_environ, startResponse) => {
        const write = startResponse(status, TEXT);
        return writing(async () => {
          await write('abc');
          await write('def');
        });
      },
      { method },
    );
    expect(transport.calls).toEqual([head(null, status), { type: 'end' }]);
  });

  test('HEAD with an empty body still sends the head', async () => {
    const transport = await run(
      ok(() => []),
      { method: 'HEAD' },
    );
    expect(transport.calls).toEqual([head(null), { type: 'end' }]);
  });

  test('HEAD still runs the body to its end (the app sees the same flow as GET)', async () => {
    let finished = false;
    await run(
      ok(function* () {
        yield 'a';
        yield 'b';
        finished = true;
      }),
      { method: 'HEAD' },
    );
    expect(finished).toBe(true);
  });
});

describe('abort', () => {
  test('abort while the app promise is pending: runApp resolves, nothing is sent', async () => {
    const transport = new FakeTransport();
    const never = new Promise<Body>(() => undefined);
    const done = run(
      ok(() => never),
      { transport },
    );
    await settle();
    transport.abortRequest();
    await done;
    expect(transport.calls).toEqual([]);
  });

  test('abort mid-stream: no end, no abort, no more chunks', async () => {
    const transport = new FakeTransport();
    let pulledAfterAbort = false;
    await run(
      ok(function* () {
        yield 'a';
        transport.abortRequest();
        yield 'b';
        pulledAfterAbort = true;
        yield 'c';
      }),
      { transport },
    );
    // 'b' was pulled before the abort could be seen; the transport drops what arrives after it.
    expect(transport.calls.map((call) => call.type)).not.toContain('end');
    expect(transport.calls.map((call) => call.type)).not.toContain('abort');
    expect(transport.calls).not.toContainEqual({ type: 'body', data: 'c' });
    expect(pulledAfterAbort).toBe(false);
  });

  test('abort while waiting on backpressure stops the pump', async () => {
    const transport = new FakeTransport({ backpressure: true });
    let pulled = 0;
    const done = run(
      ok(function* () {
        for (;;) {
          pulled += 1;
          yield 'x';
        }
      }),
      { transport },
    );
    await settle();
    transport.abortRequest();
    await done;
    expect(pulled).toBe(1);
    expect(transport.calls).toEqual([head('x')]);
  });

  test('abort while the async iterator is pending: runApp resolves without waiting for it', async () => {
    const transport = new FakeTransport();
    const done = run(
      ok(async function* () {
        yield 'a';
        await new Promise(() => undefined);
      }),
      { transport },
    );
    await settle();
    transport.abortRequest();
    await done;
    expect(transport.calls).toEqual([head('a')]);
  });

  test('an error after the abort is logged at debug and sends nothing', async () => {
    const { log, lines } = recordingLogger();
    const transport = new FakeTransport({ log });
    await run(
      ok(function* () {
        yield 'a';
        transport.abortRequest();
        throw new Error('after abort');
      }),
      { transport },
    );
    expect(transport.calls).toEqual([head('a')]);
    expect(lines.filter((line) => line.level >= LEVEL.warn)).toEqual([]);
  });

  test('already aborted before the app returns its promise: nothing is sent', async () => {
    const transport = new FakeTransport();
    transport.abortRequest();
    await run(
      ok(async () => ['x']),
      { transport },
    );
    expect(transport.calls).toEqual([]);
  });

  test('a rejection arriving after the abort is swallowed', async () => {
    const transport = new FakeTransport();
    const gate = deferred<Body>();
    const done = run(
      ok(() => gate.promise),
      { transport },
    );
    await settle();
    transport.abortRequest();
    await done;
    gate.reject(new Error('late'));
    await settle();
    expect(transport.calls).toEqual([]);
  });
});

/** PEP 3333: close() of the returned body runs exactly once, whatever happened. */
describe('close()', () => {
  const cases: Array<{
    name: string;
    chunks: () => Iterable<Chunk> | AsyncIterable<Chunk>;
    during?: (transport: FakeTransport) => void;
  }> = [
    { name: 'after a complete response', chunks: () => ['a', 'b'] },
    { name: 'after an empty response', chunks: () => [] },
    {
      name: 'when iteration throws before the head',
      chunks: () => ({
        [Symbol.iterator]: () => ({
          next: () => {
            throw new Error('boom');
          },
        }),
      }),
    },
    {
      name: 'when iteration throws after the head',
      chunks: function* () {
        yield 'a';
        throw new Error('boom');
      },
    },
    {
      name: 'when an async iteration rejects',
      chunks: async function* () {
        yield 'a';
        throw new Error('boom');
      },
    },
    { name: 'when a chunk is invalid', chunks: () => ['a', 5 as unknown as Chunk] },
    {
      name: 'when the request is aborted mid-stream',
      chunks: () => ['a', 'b', 'c'],
      during: (transport) => transport.abortRequest(),
    },
  ];

  test.each(cases)('$name', async ({ chunks, during }) => {
    const transport = new FakeTransport();
    const body = closable(chunks());
    const originalSendHead = transport.sendHead.bind(transport);
    if (during) {
      transport.sendHead = (h, first) => {
        const result = originalSendHead(h, first);
        during(transport);
        return result;
      };
    }
    await run(
      ok(() => body),
      { transport },
    );
    await settle();
    expect(body.closed).toBe(1);
  });

  test('runs after end()', async () => {
    const transport = new FakeTransport();
    const order: string[] = [];
    const body = {
      *[Symbol.iterator](): Iterator<Chunk> {
        yield 'a';
      },
      close(): void {
        order.push(`close after ${transport.calls.map((c) => c.type).join(',')}`);
      },
    };
    await run(
      ok(() => body),
      { transport },
    );
    expect(order).toEqual(['close after head,end']);
  });

  test('on a promise body that resolves after the abort', async () => {
    const transport = new FakeTransport();
    const gate = deferred<Body>();
    const done = run(
      ok(() => gate.promise),
      { transport },
    );
    await settle();
    transport.abortRequest();
    await done;
    const body = closable(['never sent']);
    gate.resolve(body);
    await settle();
    expect(body.closed).toBe(1);
    expect(transport.calls).toEqual([]);
  });

  test('is awaited when it returns a promise', async () => {
    let closed = false;
    const body = {
      [Symbol.iterator]: () => ['a'][Symbol.iterator](),
      async close(): Promise<void> {
        await settle();
        closed = true;
      },
    };
    await run(ok(() => body));
    expect(closed).toBe(true);
  });

  test('a throwing close() is logged and runApp still resolves', async () => {
    const { log, lines } = recordingLogger();
    const body = {
      [Symbol.iterator]: () => ['a'][Symbol.iterator](),
      close(): void {
        throw new Error('close failed');
      },
    };
    const transport = await run(
      ok(() => body),
      { log },
    );
    expect(transport.calls).toEqual([head('a'), { type: 'end' }]);
    expect(lines).toContainEqual(expect.objectContaining({ level: LEVEL.error }));
  });

  test('is called on an array body carrying close()', async () => {
    let closed = 0;
    const body = Object.assign(['a'], {
      close(): void {
        closed += 1;
      },
    });
    await run(ok(() => body));
    expect(closed).toBe(1);
  });
});

/** A generator cut short runs its finally blocks through return(). */
describe('iterator return()', () => {
  test('async generator suspended at yield when the request is aborted', async () => {
    const transport = new FakeTransport({ backpressure: true });
    let cleaned = false;
    const done = run(
      ok(async function* () {
        try {
          for (;;) yield 'x';
        } finally {
          cleaned = true;
        }
      }),
      { transport },
    );
    await settle();
    transport.abortRequest();
    await done;
    await settle();
    expect(cleaned).toBe(true);
  });

  test('async generator awaiting when the request is aborted finishes once its await settles', async () => {
    const transport = new FakeTransport();
    const gate = deferred<void>();
    let cleaned = false;
    let continued = false;
    const done = run(
      ok(async function* () {
        try {
          yield 'a';
          await gate.promise;
          yield 'b';
          continued = true;
        } finally {
          cleaned = true;
        }
      }),
      { transport },
    );
    await settle();
    transport.abortRequest();
    await done;
    gate.resolve();
    await settle();
    expect(cleaned).toBe(true);
    expect(continued).toBe(false);
    expect(transport.calls).toEqual([head('a')]);
  });

  test('sync generator cut short by an abort', async () => {
    const transport = new FakeTransport();
    let cleaned = false;
    await run(
      ok(function* () {
        try {
          yield 'a';
          transport.abortRequest();
          yield 'b';
          yield 'c';
        } finally {
          cleaned = true;
        }
      }),
      { transport },
    );
    await settle();
    expect(cleaned).toBe(true);
  });

  test('generator cut short by an invalid chunk', async () => {
    let cleaned = false;
    await run(
      ok(function* () {
        try {
          yield 'a';
          yield 7 as unknown as Chunk;
          yield 'b';
        } finally {
          cleaned = true;
        }
      }),
    );
    await settle();
    expect(cleaned).toBe(true);
  });

  test('not called on an iterator that ran to its end', async () => {
    let returned = 0;
    const items = ['a', 'b'];
    const body: Iterable<Chunk> = {
      [Symbol.iterator]: () => {
        let i = 0;
        return {
          next: () =>
            i < items.length ? { done: false, value: items[i++] } : { done: true, value: undefined },
          return: () => {
            returned += 1;
            return { done: true, value: undefined };
          },
        };
      },
    };
    await run(ok(() => body));
    await settle();
    expect(returned).toBe(0);
  });

  test('a throwing return() does not escape', async () => {
    const transport = new FakeTransport();
    const body: Iterable<Chunk> = {
      [Symbol.iterator]: () => ({
        next: () => ({ done: false, value: 'x' }),
        return: () => {
          throw new Error('return failed');
        },
      }),
    };
    const originalSendHead = transport.sendHead.bind(transport);
    transport.sendHead = (h, first) => {
      const result = originalSendHead(h, first);
      transport.abortRequest();
      return result;
    };
    await run(
      ok(() => body),
      { transport },
    );
    await settle();
    expect(transport.calls).toEqual([head('x')]);
  });
});

describe('runApp', () => {
  test('never rejects, whatever the app does', async () => {
    const apps: App[] = [
      () => {
        throw new Error('x');
      },
      () => Promise.reject(new Error('x')),
      () => undefined as unknown as Body,
      (_environ, startResponse: StartResponse) => {
        startResponse('200 OK', []);
        return {
          [Symbol.iterator]: () => {
            throw new Error('iterator factory');
          },
        } as Iterable<Chunk>;
      },
    ];
    for (const app of apps) {
      await expect(runApp(app, makeEnviron(), new FakeTransport())).resolves.toBeUndefined();
    }
  });

  test('passes the environ it was given to the app', async () => {
    const environ = makeEnviron({ vars: { PATH_INFO: '/hello', QUERY_STRING: 'a=1' } });
    let seen: unknown;
    await runApp(
      (env, startResponse) => {
        seen = env;
        startResponse('200 OK', []);
        return [];
      },
      environ,
      new FakeTransport(),
    );
    expect(seen).toBe(environ);
  });
});
