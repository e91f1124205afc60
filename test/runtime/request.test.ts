// ServerRequest over a fake transport: its states, admission, body accounting, timeouts, refusals and metering.
import { createHash } from 'node:crypto';
import type { ResponseHead } from '../../src/gateway/response-head';
import type { App, Environ } from '../../src/gateway/types';
import type { ServeContext } from '../../src/runtime/context';
import { resolveLimits, type Limits } from '../../src/runtime/limits';
import { Meter } from '../../src/runtime/meter';
import { ServerRequest, type Refusal, type RequestTransport } from '../../src/runtime/request';
import { SpoolBudget } from '../../src/runtime/spool-budget';
import { deferred, settle, silentLog, variableList } from '../helpers/gateway';

/** Records what the request core asked of its transport. */
class FakeRequestTransport implements RequestTransport {
  readonly protocol = 'fastcgi';
  readonly log = silentLog;
  sharedInput = false;
  paused = false;
  status = 0;
  body: Buffer[] = [];
  ended: Refusal | 'complete' | null = null;
  aborted: Error | null = null;
  errorTexts: string[] = [];

  sendHead(head: ResponseHead, first: Buffer | null): undefined {
    this.status = head.code;
    if (first !== null) this.body.push(first);
    return undefined;
  }

  sendBody(chunk: Buffer): undefined {
    this.body.push(chunk);
    return undefined;
  }

  end(refusal?: Refusal): void {
    this.ended = refusal ?? 'complete';
  }

  abort(error: Error): void {
    this.aborted = error;
  }

  pauseInput(paused: boolean): void {
    this.paused = paused;
  }

  errorText(text: Buffer): void {
    this.errorTexts.push(text.toString());
  }
}

function contextFor(app: App, limits: Partial<Limits> = {}): ServeContext {
  const resolved = resolveLimits(limits);
  return {
    app,
    log: silentLog,
    limits: resolved,
    environ: { mount: '' },
    multiprocess: false,
    load: new Meter({ log: silentLog, accessLog: null, slowMs: Infinity }),
    spool: new SpoolBudget(resolved.spoolMaxBytes),
    admissionExempt: new Set(['/ping']),
  };
}

function vars(extra: Record<string, string> = {}): string[] {
  return variableList({ REQUEST_METHOD: 'GET', REQUEST_URI: '/', ...extra });
}

const hello: App = (_environ, start) => {
  start('200 OK', [['Content-Type', 'text/plain']]);
  return ['hello'];
};

/** An app that hashes its whole input, resolving `seen` with what it read or the error it got. */
function hashing(): { app: App; seen: Promise<{ bytes: number; sha256: string } | Error> } {
  const seen = deferred<{ bytes: number; sha256: string } | Error>();
  const app: App = async (environ: Environ, start) => {
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      for await (const chunk of environ['sluice.input']) {
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
      }
    } catch (error) {
      seen.resolve(error as Error);
      throw error;
    }
    seen.resolve({ bytes, sha256: hash.digest('hex') });
    start('200 OK', []);
    return [String(bytes)];
  };
  return { app, seen: seen.promise };
}

test('headers → running → responding → ended, counted once', async () => {
  const transport = new FakeRequestTransport();
  const context = contextFor(hello);
  const request = new ServerRequest(transport, context);
  expect(request.state).toBe('headers');
  request.start(vars());
  await settle();
  expect(request.state).toBe('ended');
  expect(transport.status).toBe(200);
  expect(transport.ended).toBe('complete');
  expect(context.load.requests).toBe(1);
  expect(context.load.active).toBe(0);
});

test('the environ gives the same input, errors, signal and log at every read', async () => {
  const transport = new FakeRequestTransport();
  const seen: boolean[] = [];
  const app: App = (environ, start) => {
    for (const key of ['sluice.input', 'sluice.errors', 'sluice.signal', 'sluice.log'] as const)
      seen.push(environ[key] === environ[key]);
    start('200 OK', []);
    return [];
  };
  new ServerRequest(transport, contextFor(app)).start(vars());
  await settle();
  expect(seen).toEqual([true, true, true, true]);
});

test('a declared length over --max-body-bytes: 413 before the app runs', async () => {
  const app = jest.fn(hello);
  const transport = new FakeRequestTransport();
  const request = new ServerRequest(transport, contextFor(app, { maxBodyBytes: 10 }));
  request.start(vars({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '11' }));
  expect(app).not.toHaveBeenCalled();
  expect(transport.status).toBe(413);
  expect(transport.ended).toBe('refused');
  expect(request.state).toBe('ended');
});

test.each([[''], ['-1']])(
  'CONTENT_LENGTH %j: a body of unknown length, counted as it arrives and refused mid-stream with 413',
  async (length) => {
    const { app, seen } = hashing();
    const transport = new FakeRequestTransport();
    const context = contextFor(app, { maxBodyBytes: 10 });
    const request = new ServerRequest(transport, context);
    request.start(vars({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: length }));
    request.body(Buffer.alloc(6));
    request.body(Buffer.alloc(6));
    expect(transport.status).toBe(413);
    expect(await seen).toMatchObject({ code: 'ERR_BODY_TOO_LARGE' });
    // The rest is dropped, not held; the input flows again to be discarded.
    request.body(Buffer.alloc(1000));
    request.bodyEnd();
    expect(transport.paused).toBe(false);
    expect(context.load.active).toBe(0);
  },
);

test('a body of unknown length within the limit reaches the app whole', async () => {
  const { app, seen } = hashing();
  const transport = new FakeRequestTransport();
  const request = new ServerRequest(transport, contextFor(app, { maxBodyBytes: 10 }));
  request.start(vars({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '' }));
  request.body(Buffer.from('0123456789'));
  request.bodyEnd();
  expect(await seen).toEqual({
    bytes: 10,
    sha256: createHash('sha256').update('0123456789').digest('hex'),
  });
});

test('over the limit after the head went out: the input fails, the response is the app’s to end', async () => {
  const seen = deferred<unknown>();
  const app: App = async (environ, start) => {
    const write = start('200 OK', []);
    await write('head first');
    try {
      for await (const chunk of environ['sluice.input']) void chunk;
    } catch (error) {
      seen.resolve(error);
      throw error;
    }
    return [];
  };
  const transport = new FakeRequestTransport();
  const request = new ServerRequest(transport, contextFor(app, { maxBodyBytes: 4 }));
  request.start(vars({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '' }));
  await settle();
  request.body(Buffer.alloc(5));
  expect(await seen.promise).toMatchObject({ code: 'ERR_BODY_TOO_LARGE' });
  await settle();
  expect(transport.status).toBe(200);
  expect(transport.aborted).not.toBeNull();
  expect(request.state).toBe('aborted');
});

test('--max-concurrent: 503 with FCGI_OVERLOADED semantics; the exempt path is admitted', async () => {
  const context = contextFor(() => new Promise(() => undefined), { maxConcurrent: 1 });
  const first = new ServerRequest(new FakeRequestTransport(), context);
  first.start(vars());
  expect(context.load.active).toBe(1);
  const refused = new FakeRequestTransport();
  new ServerRequest(refused, context).start(vars());
  expect(refused.status).toBe(503);
  expect(refused.ended).toBe('overloaded');
  expect(context.load.overloaded).toBe(1);
  const ping = new FakeRequestTransport();
  new ServerRequest(ping, context).start(vars({ REQUEST_URI: '/ping' }));
  expect(ping.status).toBe(0);
  expect(context.load.active).toBe(2);
});

test('--header-timeout: 408 from the headers state, counted as a timeout', () => {
  const transport = new FakeRequestTransport();
  const context = contextFor(hello, { headerTimeout: 100 });
  const request = new ServerRequest(transport, context);
  request.expire(request.startedAt + 50);
  expect(transport.status).toBe(0);
  request.expire(request.startedAt + 150);
  expect(transport.status).toBe(408);
  expect(context.load.timeouts).toBe(1);
});

test('--request-timeout: 504 and the app’s signal aborts; after the head, the response is cut short', async () => {
  const signals: AbortSignal[] = [];
  const slow: App = (environ) => {
    signals.push(environ['sluice.signal']);
    return new Promise(() => undefined);
  };
  const transport = new FakeRequestTransport();
  const context = contextFor(slow, { requestTimeout: 100 });
  const request = new ServerRequest(transport, context);
  request.start(vars());
  request.expire(request.startedAt + 150);
  expect(transport.status).toBe(504);
  expect(signals[0].aborted).toBe(true);

  const streaming: App = async (_environ, start) => {
    await start('200 OK', [])('part');
    return new Promise(() => undefined);
  };
  const cut = new FakeRequestTransport();
  const late = new ServerRequest(cut, contextFor(streaming, { requestTimeout: 100 }));
  late.start(vars());
  await settle();
  late.expire(late.startedAt + 150);
  expect(cut.status).toBe(200);
  expect(cut.aborted).toMatchObject({ code: 'ERR_REQUEST_TIMEOUT' });
});

test('the front end going away aborts the app and ends the request once; a request never begun is not counted', async () => {
  const signals: AbortSignal[] = [];
  const app: App = (environ) => {
    signals.push(environ['sluice.signal']);
    return new Promise(() => undefined);
  };
  const context = contextFor(app);
  const request = new ServerRequest(new FakeRequestTransport(), context);
  request.start(vars());
  request.abandon(new Error('gone') as never);
  request.abandon(new Error('again') as never);
  expect(signals[0].aborted).toBe(true);
  expect(request.state).toBe('aborted');
  expect(context.load.requests).toBe(1);
  expect(context.load.errors).toBe(1);

  const idle = new ServerRequest(new FakeRequestTransport(), context);
  idle.abandon(new Error('gone') as never);
  expect(context.load.requests).toBe(1);
});

test('a bad CONTENT_LENGTH: 400 with its code', () => {
  const transport = new FakeRequestTransport();
  new ServerRequest(transport, contextFor(hello)).start(vars({ CONTENT_LENGTH: '12x' }));
  expect(transport.status).toBe(400);
});

test('a shared input is never paused: the body is spooled, within the process budget', async () => {
  const release = deferred<void>();
  const app: App = async (environ, start) => {
    await release.promise;
    let bytes = 0;
    for await (const chunk of environ['sluice.input']) bytes += (chunk as Buffer).length;
    start('200 OK', []);
    return [String(bytes)];
  };
  const transport = new FakeRequestTransport();
  transport.sharedInput = true;
  const context = contextFor(app, { bodyMemoryBytes: 1024, spoolMaxBytes: 4096 });
  const request = new ServerRequest(transport, context);
  request.start(vars({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '' }));
  // The app's stream takes 64 KiB before it asks to wait, the spool's memory 1 KiB, its file the
  // next 4 KiB; one byte more is over the process's budget: 503.
  request.body(Buffer.alloc(64 * 1024));
  for (let i = 0; i < 5; i++) request.body(Buffer.alloc(1024));
  expect(transport.status).toBe(0);
  expect(context.spool.bytes).toBe(4096);
  request.body(Buffer.alloc(1));
  expect(transport.status).toBe(503);
  expect(transport.paused).toBe(false);
  // The spool's file bytes go back to the budget once the request is over.
  release.resolve();
  await settle();
  expect(context.spool.bytes).toBe(0);
});
