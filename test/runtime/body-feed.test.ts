// BodyFeed: the app's stream made on first use, ends and failures replayed on it, pausing the input
// while it is the request's alone and spooling once it is shared.
import { ProtocolError } from '../../src/errors';
import type { RequestBody } from '../../src/gateway/input';
import { BodyFeed, type FeedOwner, type InputControl } from '../../src/runtime/body-feed';
import { SpoolBudget } from '../../src/runtime/spool-budget';

class FakeInput implements InputControl {
  sharedInput = false;
  paused = false;
  pauseInput(paused: boolean): void {
    this.paused = paused;
  }
}

function owner(): FeedOwner & { full: number; excess: number } {
  return {
    spoolMemoryBytes: 1024,
    spoolBudget: new SpoolBudget(1024 * 1024),
    full: 0,
    excess: 0,
    spoolFull() {
      this.full++;
    },
    spoolFailed(error: Error) {
      throw error;
    },
    excessBytes(bytes: number) {
      this.excess += bytes;
    },
  };
}

async function readAll(body: RequestBody): Promise<string> {
  let text = '';
  for await (const chunk of body) text += (chunk as Buffer).toString();
  return text;
}

function feed(expected: number | null, input = new FakeInput()): BodyFeed {
  return new BodyFeed(input, owner(), expected);
}

test('makes no stream for a body that ends without bytes and is never read', () => {
  const body = feed(null);
  body.finish();
  expect(body.settled).toBe(true);
  expect((body as unknown as { body: unknown }).body).toBeNull();
});

test('an end before the stream exists is replayed: the app reads an empty body', async () => {
  const body = feed(0);
  body.finish();
  await expect(readAll(body.stream)).resolves.toBe('');
});

test('an end before a declared length arrived is replayed as truncation', async () => {
  const body = feed(5);
  body.finish();
  await expect(readAll(body.stream)).rejects.toMatchObject({ code: 'ERR_BODY_TRUNCATED' });
});

test('a failure before the stream exists is replayed as the stream error', async () => {
  const body = feed(null);
  const reason = new ProtocolError('ERR_CONNECTION_CLOSED', 'gone');
  body.fail(reason);
  expect(body.settled).toBe(true);
  await expect(readAll(body.stream)).rejects.toBe(reason);
});

test('bytes reach the stream in order', async () => {
  const body = feed(6);
  body.push(Buffer.from('abc'));
  body.push(Buffer.from('def'));
  body.finish();
  await expect(readAll(body.stream)).resolves.toBe('abcdef');
});

test('a slow reader pauses an input of its own, and resumes it when it reads', async () => {
  const input = new FakeInput();
  const body = feed(null, input);
  body.push(Buffer.alloc(64 * 1024));
  expect(input.paused).toBe(true);
  body.finish();
  await readAll(body.stream);
  expect(input.paused).toBe(false);
});

test('a shared input is never left paused: once shared, what the reader cannot take is spooled', async () => {
  const input = new FakeInput();
  const body = feed(null, input);
  body.push(Buffer.alloc(64 * 1024));
  expect(input.paused).toBe(true);
  input.sharedInput = true;
  body.becameShared();
  expect(input.paused).toBe(false);
  body.push(Buffer.from('tail'));
  body.finish();
  expect((await readAll(body.stream)).length).toBe(64 * 1024 + 4);
});
