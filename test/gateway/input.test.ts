// RequestBody: exact CONTENT_LENGTH, excess and truncation, streamed bodies, backpressure, failure.
import { ProtocolError } from '../../src/errors';
import { RequestBody, type BodySource } from '../../src/gateway/input';
import { settle } from '../helpers/gateway';

/** A body source recording pause()/resume() in order. */
class FakeSource implements BodySource {
  readonly events: Array<'pause' | 'resume'> = [];
  pause(): void {
    this.events.push('pause');
  }
  resume(): void {
    this.events.push('resume');
  }
}

interface Setup {
  body: RequestBody;
  source: FakeSource;
  excess: number[];
}

function setup(expected: number | null, highWaterMark?: number): Setup {
  const source = new FakeSource();
  const excess: number[] = [];
  const body = new RequestBody(source, expected, (bytes) => excess.push(bytes), highWaterMark);
  return { body, source, excess };
}

/** Reads the stream to its end; resolves with the bytes as latin1 text, or rejects with the stream's error. */
async function readAll(body: RequestBody): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('latin1');
}

/** Resolves with the stream's error code once it errors (or with 'end'). */
function outcome(body: RequestBody): Promise<string> {
  return readAll(body).then(
    () => 'end',
    (error: unknown) => (error as ProtocolError).code,
  );
}

describe('declared length', () => {
  const cases: Array<{
    name: string;
    expected: number;
    deliveries: string[];
    text: string;
    excess: number[];
  }> = [
    { name: 'exact, one chunk', expected: 5, deliveries: ['hello'], text: 'hello', excess: [] },
    { name: 'exact, split', expected: 5, deliveries: ['he', 'l', 'lo'], text: 'hello', excess: [] },
    {
      name: 'exact, with empty chunks',
      expected: 5,
      deliveries: ['', 'hello', ''],
      text: 'hello',
      excess: [],
    },
    { name: 'zero', expected: 0, deliveries: [], text: '', excess: [] },
    {
      name: 'excess in the last chunk',
      expected: 5,
      deliveries: ['hel', 'lo!!'],
      text: 'hello',
      excess: [2],
    },
    { name: 'excess in one chunk', expected: 3, deliveries: ['abcdef'], text: 'abc', excess: [3] },
    {
      name: 'excess in later chunks',
      expected: 2,
      deliveries: ['ab', 'cd', 'e'],
      text: 'ab',
      excess: [2, 1],
    },
    { name: 'zero length, all excess', expected: 0, deliveries: ['xyz'], text: '', excess: [3] },
    {
      name: 'binary bytes kept as sent',
      expected: 4,
      deliveries: ['\x00\xff\r\n'],
      text: '\x00\xff\r\n',
      excess: [],
    },
  ];

  test.each(cases)('$name', async ({ expected, deliveries, text, excess }) => {
    const s = setup(expected);
    for (const d of deliveries) s.body.deliver(Buffer.from(d, 'latin1'));
    s.body.finish();
    expect(await readAll(s.body)).toBe(text);
    expect(s.excess).toEqual(excess);
  });

  test('excess arriving after finish() is reported, not read', async () => {
    const s = setup(2);
    s.body.deliver(Buffer.from('ab'));
    s.body.finish();
    s.body.deliver(Buffer.from('cde'));
    expect(await readAll(s.body)).toBe('ab');
    expect(s.excess).toEqual([3]);
  });

  test('a body cut at the length keeps a view of the chunk, not a copy', async () => {
    const s = setup(3);
    const chunk = Buffer.from('abcdef');
    s.body.deliver(chunk);
    s.body.finish();
    const read = s.body.read() as Buffer;
    expect(read.toString()).toBe('abc');
    expect(read.buffer).toBe(chunk.buffer);
  });
});

describe('truncated body', () => {
  const cases: Array<{ name: string; expected: number; deliveries: string[] }> = [
    { name: 'nothing sent', expected: 4, deliveries: [] },
    { name: 'part sent', expected: 10, deliveries: ['abc'] },
    { name: 'one byte short', expected: 4, deliveries: ['ab', 'c'] },
  ];

  test.each(cases)('$name: ERR_BODY_TRUNCATED, status 400', async ({ expected, deliveries }) => {
    const s = setup(expected);
    for (const d of deliveries) s.body.deliver(Buffer.from(d));
    const result = readAll(s.body).catch((error: unknown) => error);
    s.body.finish();
    const error = await result;
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: 'ERR_BODY_TRUNCATED', status: 400 });
  });

  test('truncation with nobody reading is not an uncaught error', async () => {
    const s = setup(4);
    s.body.finish();
    await settle();
    expect(s.body.destroyed).toBe(true);
    expect(s.body.errored).toMatchObject({ code: 'ERR_BODY_TRUNCATED' });
  });
});

describe('no declared length (streamed)', () => {
  test('everything until finish()', async () => {
    const s = setup(null);
    for (const d of ['a', 'bc', '', 'def']) s.body.deliver(Buffer.from(d));
    s.body.finish();
    expect(await readAll(s.body)).toBe('abcdef');
    expect(s.excess).toEqual([]);
  });

  test('finish() alone is an empty body', async () => {
    const s = setup(null);
    s.body.finish();
    expect(await readAll(s.body)).toBe('');
  });

  test('the stream stays open until finish()', async () => {
    const s = setup(null);
    let ended = false;
    s.body.on('end', () => (ended = true));
    s.body.deliver(Buffer.from('abc'));
    s.body.resume();
    await settle();
    expect(ended).toBe(false);
    s.body.finish();
    await settle();
    expect(ended).toBe(true);
  });

  // Regression: a delivery after finish() pushed after EOF, an uncaught ERR_STREAM_PUSH_AFTER_EOF.
  test('bytes delivered after finish() are reported as excess, not an error', async () => {
    const s = setup(null);
    s.body.deliver(Buffer.from('ab'));
    s.body.finish();
    s.body.deliver(Buffer.from('cde'));
    await settle();
    expect(s.body.errored).toBeNull();
    expect(await readAll(s.body)).toBe('ab');
    expect(s.excess).toEqual([3]);
  });
});

describe('backpressure', () => {
  test('the source is paused once the buffer is full, and resumed when the consumer reads', async () => {
    const s = setup(null, 4);
    s.body.deliver(Buffer.from('ab'));
    expect(s.source.events).toEqual([]);
    s.body.deliver(Buffer.from('cd'));
    expect(s.source.events).toEqual(['pause']);
    s.body.deliver(Buffer.from('ef'));
    expect(s.source.events).toEqual(['pause']);
    expect((s.body.read() as Buffer).toString()).toBe('abcdef');
    await settle();
    expect(s.source.events).toEqual(['pause', 'resume']);
  });

  test('a slow consumer gets every byte and each pause is matched by a resume', async () => {
    const s = setup(null, 8);
    const received: Buffer[] = [];
    const consumer = (async () => {
      for await (const chunk of s.body) {
        received.push(chunk as Buffer);
        await settle();
      }
    })();
    const expected = Buffer.alloc(200);
    for (let i = 0; i < expected.length; i++) expected[i] = i;
    for (let offset = 0; offset < expected.length; offset += 10) {
      // A real source stops delivering while paused.
      while (s.source.events[s.source.events.length - 1] === 'pause') await settle();
      s.body.deliver(expected.subarray(offset, offset + 10));
    }
    s.body.finish();
    await consumer;
    expect(Buffer.concat(received)).toEqual(expected);
    const pauses = s.source.events.filter((e) => e === 'pause').length;
    expect(pauses).toBeGreaterThan(0);
    expect(s.source.events).toEqual(Array.from({ length: pauses }, () => ['pause', 'resume']).flat());
  });

  // Regression: _read() never runs past the end, so a source paused by the last chunk stayed paused
  // (a FastCGI connection would stall its other requests, an SCGI one would not see the client leave).
  const ends: Array<{ name: string; expected: number | null; end: (body: RequestBody) => void }> = [
    { name: 'finish() with a streamed body', expected: null, end: (body) => body.finish() },
    { name: 'finish() at the declared length', expected: 4, end: (body) => body.finish() },
    { name: 'finish() on a truncated body', expected: 10, end: (body) => body.finish() },
    { name: 'fail()', expected: 10, end: (body) => body.fail(new Error('gone')) },
  ];

  test.each(ends)('a source paused when the body ends through $name is resumed', ({ expected, end }) => {
    const s = setup(expected, 2);
    s.body.deliver(Buffer.from('abcd'));
    expect(s.source.events).toEqual(['pause']);
    end(s.body);
    expect(s.source.events).toEqual(['pause', 'resume']);
  });

  test('no resume() without an earlier pause()', async () => {
    const s = setup(3);
    s.body.deliver(Buffer.from('abc'));
    s.body.finish();
    expect(await readAll(s.body)).toBe('abc');
    expect(s.source.events).toEqual([]);
  });
});

describe('fail()', () => {
  const reason = new ProtocolError('ERR_CONNECTION_CLOSED', 'gone');

  test('a reading consumer sees the error', async () => {
    const s = setup(10);
    s.body.deliver(Buffer.from('abc'));
    const result = outcome(s.body);
    s.body.fail(reason);
    expect(await result).toBe('ERR_CONNECTION_CLOSED');
  });

  test('with nobody listening there is no uncaught error', async () => {
    const s = setup(10);
    s.body.deliver(Buffer.from('abc'));
    s.body.fail(reason);
    await settle();
    expect(s.body.destroyed).toBe(true);
  });

  test('a consumer that starts reading after the failure sees the error', async () => {
    const s = setup(10);
    s.body.fail(reason);
    await settle();
    expect(await outcome(s.body)).toBe('ERR_CONNECTION_CLOSED');
  });

  test('a listener of the app is kept, and gets the error', async () => {
    const s = setup(10);
    const seen: unknown[] = [];
    s.body.on('error', (error) => seen.push(error));
    s.body.fail(reason);
    await settle();
    expect(seen).toEqual([reason]);
  });

  const after: Array<{ name: string; act: (s: Setup) => void }> = [
    { name: 'deliver()', act: (s) => s.body.deliver(Buffer.from('more')) },
    { name: 'finish()', act: (s) => s.body.finish() },
    { name: 'fail() again', act: (s) => s.body.fail(new Error('second')) },
  ];

  test.each(after)('$name after fail() is ignored', async ({ act }) => {
    const s = setup(4);
    s.body.fail(reason);
    act(s);
    await settle();
    expect(s.body.errored).toBe(reason);
    expect(s.excess).toEqual([]);
  });

  test('fail() after the body was read to its end is ignored', async () => {
    const s = setup(3);
    s.body.deliver(Buffer.from('abc'));
    s.body.finish();
    expect(await readAll(s.body)).toBe('abc');
    s.body.fail(reason);
    await settle();
    expect(s.body.errored).toBeNull();
  });
});

describe('for await', () => {
  test('yields each chunk as delivered, not the buffered chunks copied into one', async () => {
    const s = setup(null);
    const delivered = ['ab', 'cde', 'f'].map((text) => Buffer.from(text));
    for (const chunk of delivered) s.body.deliver(chunk);
    const consumer = (async () => {
      const yielded: Buffer[] = [];
      for await (const chunk of s.body) yielded.push(chunk as Buffer);
      return yielded;
    })();
    await settle();
    const more = Buffer.from('gh');
    s.body.deliver(more);
    s.body.finish();
    const yielded = await consumer;
    expect(yielded).toHaveLength(4);
    [...delivered, more].forEach((chunk, i) => expect(yielded[i]).toBe(chunk));
  });

  test('a loop left early destroys the stream, as Node does', async () => {
    const s = setup(null);
    s.body.deliver(Buffer.from('ab'));
    s.body.deliver(Buffer.from('cd'));
    for await (const chunk of s.body) {
      expect((chunk as Buffer).toString()).toBe('ab');
      break;
    }
    expect(s.body.destroyed).toBe(true);
    expect(s.body.listenerCount('data')).toBe(0);
  });

  test('a body read to its end and iterated again ends at once', async () => {
    const s = setup(2);
    s.body.deliver(Buffer.from('ab'));
    s.body.finish();
    expect(await readAll(s.body)).toBe('ab');
    expect(await readAll(s.body)).toBe('');
  });

  test('a stream destroyed before its end throws a premature close', async () => {
    const s = setup(null);
    s.body.deliver(Buffer.from('ab'));
    const consumer = readAll(s.body);
    await settle();
    s.body.destroy();
    await expect(consumer).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  test('the source stays paused while the loop holds a full buffer, and resumes as it reads', async () => {
    const s = setup(null, 4);
    const iterator = s.body[Symbol.asyncIterator]();
    const first = iterator.next();
    for (const text of ['ab', 'cd', 'ef', 'gh']) s.body.deliver(Buffer.from(text));
    expect(((await first).value as Buffer).toString()).toBe('ab');
    expect(s.source.events).toEqual(['pause']);
    const rest: string[] = [];
    for (let i = 0; i < 3; i++) rest.push(((await iterator.next()).value as Buffer).toString());
    expect(rest).toEqual(['cd', 'ef', 'gh']);
    await settle();
    expect(s.source.events).toEqual(['pause', 'resume']);
    s.body.finish();
    expect((await iterator.next()).done).toBe(true);
  });
});
