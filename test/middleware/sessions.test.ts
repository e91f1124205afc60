// sessions(): each store counts visits, refuses tampered and expired cookies without a 500, rotates
// secrets, regenerates and destroys, bounds the cookie at 4 KB, and lets the last of two saves win.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'cookie';
import { runApp } from '../../src/gateway/driver';
import type { App, Environ, Middleware, StartResponse } from '../../src/gateway/types';
import { FileStore } from '../../src/middleware/session-file-store';
import { MemoryStore, type SessionStore } from '../../src/middleware/session-store';
import {
  SESSION,
  SESSIONS,
  sessions,
  type SessionControl,
  type SessionData,
} from '../../src/middleware/sessions';
import {
  deferred,
  FakeTransport,
  LEVEL,
  makeEnviron,
  recordingLogger,
  type LogLine,
} from '../helpers/gateway';

const SECRET = 'a'.repeat(32);
const OTHER = 'b'.repeat(32);

interface Answer {
  status: string;
  /** Set-Cookie headers as sent. */
  setCookies: string[];
  body: string;
  lines: LogLine[];
}

interface CallOptions {
  /** The Cookie request header. */
  readonly cookie?: string;
  readonly vars?: Record<string, string>;
  /** Runs on the environ before the middleware sees it. */
  readonly prepare?: (environ: Environ) => void;
}

async function call(middleware: Middleware, app: App, options: CallOptions = {}): Promise<Answer> {
  const { log, lines } = recordingLogger();
  const transport = new FakeTransport({ log });
  const vars = { ...options.vars, ...(options.cookie === undefined ? {} : { HTTP_COOKIE: options.cookie }) };
  const environ = makeEnviron({ vars, signal: transport.signal, log });
  options.prepare?.(environ);
  await runApp(middleware(app), environ, transport);
  const head = transport.calls[0];
  if (head.type !== 'head') throw new Error('no head');
  return {
    status: head.status,
    setCookies: head.headers.filter(([name]) => name === 'Set-Cookie').map(([, value]) => value),
    body: transport.calls
      .map((c) => (c.type === 'head' ? (c.first ?? '') : c.type === 'body' ? c.data : ''))
      .join(''),
    lines,
  };
}

/** The `name=value` a browser sends back for a Set-Cookie header. */
function sentBack(setCookie: string): string {
  return setCookie.slice(0, setCookie.indexOf(';'));
}

/** Paste's visit counter: reads, counts, answers the count. */
const counter: App = (environ, startResponse) => {
  const session = environ[SESSION] as SessionData;
  session.count = ((session.count as number | undefined) ?? 0) + 1;
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [`visit ${session.count}`];
};

/** Answers with the session's JSON, changing nothing. */
const show: App = (environ, startResponse) => {
  startResponse('200 OK', []);
  return [JSON.stringify(environ[SESSION])];
};

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-sessions-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
afterEach(() => jest.restoreAllMocks());

/** One middleware per store, made fresh for each test. */
const STORES: Array<[string, () => Middleware]> = [
  ['cookie', () => sessions({ secrets: SECRET })],
  ['memory', () => sessions({ secrets: SECRET, store: 'memory' })],
  ['file', () => sessions({ secrets: SECRET, store: 'file', directory: tempDir() })],
];

describe.each(STORES)('%s store', (name, make) => {
  test('counts visits; the cookie is HttpOnly, SameSite=Lax, Path=/, with a Max-Age, and Secure over HTTPS', async () => {
    const middleware = make();
    const first = await call(middleware, counter);
    expect(first.body).toBe('visit 1');
    expect(first.setCookies).toHaveLength(1);
    const attributes = first.setCookies[0].split('; ').slice(1);
    expect(attributes.sort()).toEqual(['HttpOnly', 'Max-Age=86400', 'Path=/', 'SameSite=Lax']);
    let cookie = sentBack(first.setCookies[0]);
    expect(cookie).not.toContain('count');
    for (const visit of [2, 3]) {
      const next = await call(middleware, counter, { cookie: `other=1; ${cookie}` });
      expect(next.body).toBe(`visit ${visit}`);
      cookie = sentBack(next.setCookies[0]);
    }
    const secure = await call(middleware, counter, { vars: { HTTPS: 'on' } });
    expect(secure.setCookies[0].split('; ')).toContain('Secure');
  });

  test('an unchanged session and an empty new one send no cookie', async () => {
    const middleware = make();
    expect((await call(middleware, show)).setCookies).toEqual([]);
    const cookie = sentBack((await call(middleware, counter)).setCookies[0]);
    const again = await call(middleware, show, { cookie });
    expect(again.body).toBe('{"count":1}');
    expect(again.setCookies).toEqual([]);
  });

  test('a tampered cookie starts a new session, logged at debug, and is cleared: never a 500', async () => {
    const middleware = make();
    const value = parse(sentBack((await call(middleware, counter)).setCookies[0])).sluice_session!;
    const flipped = value.slice(0, 5) + (value[5] === 'A' ? 'B' : 'A') + value.slice(6);
    for (const bad of [flipped, value.slice(0, -2), 'garbage', '', '%%%']) {
      const answer = await call(middleware, show, { cookie: `sluice_session=${bad}` });
      expect([answer.status, answer.body]).toEqual(['200 OK', '{}']);
      expect(answer.setCookies).toEqual([expect.stringMatching(/^sluice_session=; Max-Age=0;/)]);
      expect(answer.lines).toContainEqual(
        expect.objectContaining({ level: LEVEL.debug, msg: 'session cookie refused: a new session starts' }),
      );
    }
  });

  test('an expired session starts anew', async () => {
    const middleware = sessionsWith(make, { maxAge: 60 });
    const cookie = sentBack((await call(middleware, counter)).setCookies[0]);
    const later = Date.now() + 61_000;
    jest.spyOn(Date, 'now').mockReturnValue(later);
    const answer = await call(middleware, counter, { cookie });
    expect(answer.body).toBe('visit 1');
    expect(answer.lines.map((l) => l.reason)).toContainEqual(expect.stringMatching(/expired/));
  });

  test('secrets rotate: the first signs, every one verifies; an unknown secret is refused', async () => {
    const old = sessionsWith(make, { secrets: OTHER });
    const cookie = sentBack((await call(old, counter)).setCookies[0]);
    const rotated = sessionsWith(make, { secrets: [SECRET, OTHER] }, old);
    const answer = await call(rotated, counter, { cookie });
    expect(answer.body).toBe('visit 2');
    // Saved again under the first secret, which alone reads it.
    const renewed = sentBack(answer.setCookies[0]);
    expect((await call(sessionsWith(make, { secrets: SECRET }, old), show, { cookie: renewed })).body).toBe(
      '{"count":2}',
    );
    expect((await call(sessionsWith(make, { secrets: SECRET }, old), show, { cookie })).body).toBe('{}');
  });

  test('regenerate() keeps the data under a new id; the old id is worth nothing on a server store', async () => {
    const middleware = make();
    const first = sentBack((await call(middleware, counter)).setCookies[0]);
    const ids: Array<string | undefined> = [];
    const login: App = (environ, startResponse) => {
      const control = environ[SESSIONS] as SessionControl;
      expect(Object.keys(control).sort()).toEqual(['destroy', 'id', 'regenerate']);
      ids.push(control.id);
      control.regenerate();
      (environ[SESSION] as SessionData).user = 'ann';
      startResponse('200 OK', []);
      ids.push(control.id);
      return [];
    };
    const answer = await call(middleware, login, { cookie: first });
    expect(ids[0]).toMatch(/^[\w-]{24}$/);
    expect(ids[1]).toMatch(/^[\w-]{24}$/);
    expect(ids[1]).not.toBe(ids[0]);
    const second = sentBack(answer.setCookies[0]);
    expect((await call(middleware, show, { cookie: second })).body).toBe('{"count":1,"user":"ann"}');
    if (name !== 'cookie') expect((await call(middleware, show, { cookie: first })).body).toBe('{}');
  });

  test('destroy() empties the session in place and clears the cookie', async () => {
    const middleware = make();
    const cookie = sentBack((await call(middleware, counter)).setCookies[0]);
    let held: SessionData | undefined;
    const logout: App = (environ, startResponse) => {
      held = environ[SESSION] as SessionData;
      (environ[SESSIONS] as SessionControl).destroy();
      startResponse('200 OK', []);
      return [];
    };
    const answer = await call(middleware, logout, { cookie });
    expect(held).toEqual({});
    expect(answer.setCookies).toEqual([expect.stringMatching(/^sluice_session=; Max-Age=0;/)]);
    if (name !== 'cookie') expect((await call(middleware, show, { cookie })).body).toBe('{}');
  });

  test('two requests of one session at once: each works on its own copy, the last save wins', async () => {
    const middleware = make();
    const cookie = sentBack((await call(middleware, counter)).setCookies[0]);
    const gates = [deferred<void>(), deferred<void>()];
    const slow =
      (key: string, gate: Promise<void>): App =>
      async (environ, startResponse) => {
        const session = environ[SESSION] as SessionData;
        session[key] = true;
        await gate;
        startResponse('200 OK', []);
        return [JSON.stringify(session)];
      };
    const a = call(middleware, slow('a', gates[0].promise), { cookie });
    const b = call(middleware, slow('b', gates[1].promise), { cookie });
    gates[0].resolve();
    const first = await a;
    gates[1].resolve();
    const last = await b;
    expect([first.body, last.body]).toEqual(['{"count":1,"a":true}', '{"count":1,"b":true}']);
    // A browser keeps the cookie it got last; a store keeps the write it got last.
    const kept = name === 'cookie' ? sentBack(last.setCookies[0]) : cookie;
    expect((await call(middleware, show, { cookie: kept })).body).toBe('{"count":1,"b":true}');
  });
});

/** The store of each middleware sessionsWith made, so that another can share it. */
const storeOf = new WeakMap<Middleware, 'cookie' | SessionStore>();

/** The same kind of store as `make`, with other options; the very store of `like` when given. */
function sessionsWith(
  make: () => Middleware,
  options: { secrets?: string | string[]; maxAge?: number },
  like?: Middleware,
): Middleware {
  const kind = STORES.find(([, maker]) => maker === make)![0];
  const fresh = (): 'cookie' | SessionStore =>
    kind === 'file' ? new FileStore(tempDir(), 60_000) : kind === 'memory' ? new MemoryStore(100) : 'cookie';
  const store = (like === undefined ? undefined : storeOf.get(like)) ?? fresh();
  const middleware = sessions({ secrets: options.secrets ?? SECRET, maxAge: options.maxAge, store });
  storeOf.set(middleware, store);
  return middleware;
}

test('a missing, short or odd secret is refused at start with ERR_SESSION_SECRET', () => {
  for (const secrets of [undefined, [], 'x'.repeat(31), [SECRET, 'short'], [42], Buffer.alloc(31)]) {
    expect(() => sessions({ secrets } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_SESSION_SECRET' }),
    );
  }
  expect(() => sessions({ secrets: Buffer.alloc(32) })).not.toThrow();
  // 32 bytes in UTF-8, though 16 characters.
  expect(() => sessions({ secrets: 'é'.repeat(16) })).not.toThrow();
});

test('bad options are refused at start with ERR_SESSION_OPTIONS', () => {
  const file = path.join(tempDir(), 'a-file');
  writeFileSync(file, '');
  for (const options of [
    { store: 'redis' },
    { store: { get: async () => undefined } },
    { store: 'file' },
    { store: 'file', directory: path.join(file, 'below') },
    { maxAge: 0 },
    { store: 'memory', maxSessions: 1.5 },
  ]) {
    expect(() => sessions({ secrets: SECRET, ...options } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_SESSION_OPTIONS' }),
    );
  }
});

test('a cookie session over 4 KB is logged as ERR_SESSION_TOO_LARGE; the response goes out without it', async () => {
  const middleware = sessions({ secrets: SECRET });
  const cookie = sentBack((await call(middleware, counter)).setCookies[0]);
  const big: App = (environ, startResponse) => {
    (environ[SESSION] as SessionData).text = 'x'.repeat(3000);
    startResponse('200 OK', []);
    return ['fine'];
  };
  const answer = await call(middleware, big, { cookie });
  expect([answer.status, answer.body, answer.setCookies]).toEqual(['200 OK', 'fine', []]);
  expect(answer.lines).toContainEqual(
    expect.objectContaining({ level: LEVEL.error, code: 'ERR_SESSION_TOO_LARGE' }),
  );
  // The browser keeps the session it had.
  expect((await call(middleware, show, { cookie })).body).toBe('{"count":1}');
  // A server store holds the same session: its cookie is only an id.
  const stored = await call(sessions({ secrets: SECRET, store: 'memory' }), big);
  expect(stored.setCookies[0].length).toBeLessThan(200);
});

test('a session that is no JSON object is logged as ERR_SESSION_DATA, not saved', async () => {
  const middleware = sessions({ secrets: SECRET });
  for (const change of [
    (environ: Environ) => ((environ[SESSION] as SessionData).n = 1n),
    (environ: Environ) => (environ[SESSION] = [1, 2]),
  ]) {
    const answer = await call(middleware, (environ, startResponse) => {
      change(environ);
      startResponse('200 OK', []);
      return ['ok'];
    });
    expect([answer.body, answer.setCookies]).toEqual(['ok', []]);
    expect(answer.lines).toContainEqual(expect.objectContaining({ code: 'ERR_SESSION_DATA' }));
  }
});

test('regenerate() or destroy() after the response started throws ERR_SESSION_AFTER_START', async () => {
  const errors: unknown[] = [];
  await call(sessions({ secrets: SECRET }), (environ, startResponse) => {
    startResponse('200 OK', []);
    const control = environ[SESSIONS] as SessionControl;
    for (const act of [() => control.regenerate(), () => control.destroy()]) {
      try {
        act();
      } catch (error) {
        errors.push(error);
      }
    }
    return [];
  });
  expect(errors).toEqual([
    expect.objectContaining({ code: 'ERR_SESSION_AFTER_START' }),
    expect.objectContaining({ code: 'ERR_SESSION_AFTER_START' }),
  ]);
});

/** Three ways an app starts its response: in a lazy body, before returning a stream, with write(). */
const STARTS: Array<[string, App]> = [
  [
    'in a generator body',
    async function* lazy(environ: Environ, startResponse: StartResponse) {
      (environ[SESSION] as SessionData).seen = true;
      startResponse('200 OK', []);
      yield 'one';
    } as unknown as App,
  ],
  [
    'before returning a stream',
    (environ, startResponse) => {
      (environ[SESSION] as SessionData).seen = true;
      startResponse('200 OK', []);
      return (async function* stream() {
        yield 'one';
      })();
    },
  ],
  [
    'with write()',
    async (environ, startResponse) => {
      (environ[SESSION] as SessionData).seen = true;
      await startResponse('200 OK', [])('one');
      return [];
    },
  ],
];

test.each(STARTS)('a store write holds the head back, started %s', async (_how, app) => {
  const saved = deferred<void>();
  const store: SessionStore = {
    get: async () => undefined,
    set: () => saved.promise,
    delete: async () => {},
  };
  const transport = new FakeTransport();
  const done = runApp(
    sessions({ secrets: SECRET, store })(app),
    makeEnviron({ signal: transport.signal }),
    transport,
  );
  await new Promise((resolve) => setImmediate(resolve));
  expect(transport.calls).toEqual([]);
  saved.resolve();
  await done;
  expect(transport.calls[0]).toMatchObject({ type: 'head', status: '200 OK', first: 'one' });
});

test('a failing store fails the response: a 500 while the head is unsent', async () => {
  const store: SessionStore = {
    get: async () => undefined,
    set: async () => Promise.reject(new Error('disk full')),
    delete: async () => {},
  };
  expect((await call(sessions({ secrets: SECRET, store }), counter)).status).toBe(
    '500 Internal Server Error',
  );
});

test('the memory store forgets the least recently used past maxSessions, and warns under workers', async () => {
  const middleware = sessions({ secrets: SECRET, store: 'memory', maxSessions: 2 });
  const cookies: string[] = [];
  for (let i = 0; i < 2; i++) cookies.push(sentBack((await call(middleware, counter)).setCookies[0]));
  // Using the first makes the second the least recently used.
  expect((await call(middleware, show, { cookie: cookies[0] })).body).toBe('{"count":1}');
  cookies.push(sentBack((await call(middleware, counter)).setCookies[0]));
  const bodies = [];
  for (const cookie of cookies) bodies.push((await call(middleware, show, { cookie })).body);
  expect(bodies).toEqual(['{"count":1}', '{}', '{"count":1}']);

  const workers = { prepare: (environ: Environ) => (environ['sluice.multiprocess'] = true) };
  const warned = await call(middleware, show, workers);
  expect(warned.lines).toContainEqual(
    expect.objectContaining({ level: LEVEL.warn, msg: expect.stringMatching(/memory store/) }),
  );
  expect((await call(middleware, show, workers)).lines.filter((l) => l.level === LEVEL.warn)).toEqual([]);
});

test('the file store writes one private file per session and sweeps expired ones and stale temporaries', async () => {
  const dir = tempDir();
  const store = new FileStore(dir, 60_000);
  await store.set('A'.repeat(24), '{"n":1}', 60_000);
  await store.set('B'.repeat(24), '{"n":2}', 3_600_000);
  expect(readdirSync(dir).sort()).toEqual(['A'.repeat(24) + '.json', 'B'.repeat(24) + '.json']);
  expect(statSync(path.join(dir, 'A'.repeat(24) + '.json')).mode & 0o777).toBe(0o600);
  expect(readFileSync(path.join(dir, 'B'.repeat(24) + '.json'), 'utf8')).toBe('{"n":2}');
  utimesSync(path.join(dir, 'A'.repeat(24) + '.json'), 1, 1);
  writeFileSync(path.join(dir, 'C'.repeat(24) + '.0123.tmp'), '{');
  writeFileSync(path.join(dir, 'notes.txt'), 'not ours');
  // A temporary file counts as stale once its status is older than a sweep interval.
  jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 61_000);
  expect(await store.sweep()).toBe(2);
  expect(readdirSync(dir).sort()).toEqual(['B'.repeat(24) + '.json', 'notes.txt']);
  expect(await store.get('A'.repeat(24))).toBeUndefined();
  expect(await store.get('../../etc/passwd')).toBeUndefined();
});

test('a corrupt file store record starts a new session', async () => {
  const dir = tempDir();
  const middleware = sessions({ secrets: SECRET, store: 'file', directory: dir });
  const cookie = sentBack((await call(middleware, counter)).setCookies[0]);
  const file = path.join(dir, readdirSync(dir)[0]);
  writeFileSync(file, '{"count":');
  // The file's time is its expiry: writing it would otherwise expire the session.
  utimesSync(file, new Date(Date.now() + 60_000), new Date(Date.now() + 60_000));
  const answer = await call(middleware, counter, { cookie });
  expect(answer.body).toBe('visit 1');
  expect(answer.lines.map((l) => l.reason)).toContainEqual(expect.stringMatching(/unreadable/));
});
