// The daemon over raw FastCGI sockets (Unix and TCP): records, ids, keep-alive, multiplexing, roles,
// management records, aborts, bad input and graceful stop, checked record by record.
import {
  FCGI_ABORT_REQUEST,
  FCGI_AUTHORIZER,
  FCGI_BEGIN_REQUEST,
  FCGI_DATA,
  FCGI_END_REQUEST,
  FCGI_FILTER,
  FCGI_KEEP_CONN,
  FCGI_GET_VALUES,
  FCGI_GET_VALUES_RESULT,
  FCGI_MAX_CONNS,
  FCGI_MAX_REQS,
  FCGI_MPXS_CONNS,
  FCGI_OVERLOADED,
  FCGI_PARAMS,
  FCGI_RESPONDER,
  FCGI_REQUEST_COMPLETE,
  FCGI_STDERR,
  FCGI_STDIN,
  FCGI_STDOUT,
  FCGI_UNKNOWN_ROLE,
  FCGI_UNKNOWN_TYPE,
} from '../../src/fastcgi/constants';
import { encodePairs } from '../../src/fastcgi/pairs';
import { beginRequestRecord, paramsRecords, stdinRecords, streamEndRecord } from '../../src/fastcgi/writer';
import { startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import {
  FastCgiClient,
  fcgiParams,
  fcgiRequest,
  rawRecord,
  requestRecords,
  type RequestReply,
} from '../helpers/fastcgi';
import { exchange } from '../helpers/scgi';
import { pattern, sha256 } from '../helpers/bytes';
import { MiB, residentBytes } from '../helpers/process-resources';

const APP = 'test/fixtures/apps/probe.mjs';

/** The environ the probe's /env route reported; FCGI_ROLE is checked in every one. */
function environOf(reply: RequestReply, role = 'RESPONDER'): Record<string, string> {
  const response = reply.response();
  expect(response.status).toBe(200);
  const environ = JSON.parse(response.body.toString()) as Record<string, string>;
  expect(environ.FCGI_ROLE).toBe(role);
  return environ;
}

/** The END_REQUEST of a normally completed response: one empty STDOUT, appStatus 0, REQUEST_COMPLETE. */
function expectComplete(reply: RequestReply): void {
  expect(reply.end).toMatchObject({ appStatus: 0, protocolStatus: FCGI_REQUEST_COMPLETE });
  expect(reply.stdoutEnds).toBe(1);
}

/** A complete /env response whose environ says FCGI_ROLE=RESPONDER. */
function expectResponder(reply: RequestReply): void {
  expectComplete(reply);
  environOf(reply);
}

let daemon: Daemon;
let unix: string;
let tcp: string;

function logCount(daemonOf: Daemon, test: (line: Record<string, unknown>) => boolean): number {
  return daemonOf.logLines().filter(test).length;
}

/** Waits until more than `before` log lines pass `test`. */
async function waitForLogs(
  test: (line: Record<string, unknown>) => boolean,
  before: number,
  ms = 5000,
  daemonOf: Daemon = daemon,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (logCount(daemonOf, test) <= before) {
    if (Date.now() > deadline) {
      throw new Error(`log line not seen within ${ms} ms:\n${daemonOf.logs().slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A plain request on a fresh connection: the daemon still serves. */
async function stillServes(address = unix): Promise<void> {
  const reply = await fcgiRequest(address, { params: fcgiParams('GET', '/missing'), keepConn: false });
  expect(reply.response().status).toBe(404);
  expectComplete(reply);
}

const clients: FastCgiClient[] = [];
async function connect(address = unix): Promise<FastCgiClient> {
  const client = await FastCgiClient.connect(address);
  clients.push(client);
  return client;
}

beforeAll(async () => {
  daemon = await startDaemon(APP, [
    '--fastcgi',
    'unix:' + tempSocketPath('fcgi.sock'),
    '--fastcgi',
    '127.0.0.1:0',
    '--log-level',
    'debug',
  ]);
  [unix, tcp] = daemon.addresses.fastcgi!;
});

afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
});

afterAll(async () => {
  if (daemon) expect(await daemon.stop()).toBe(0);
});

describe.each([
  ['unix', () => unix],
  ['tcp', () => tcp],
])('over %s', (_kind, address) => {
  test('GET with a query string: the environ as the app sees it', async () => {
    const reply = await fcgiRequest(address(), {
      params: fcgiParams('GET', '/env?x=1&y=%20', [
        ['HTTP_X_A', 'one'],
        ['HTTP_X_A', 'two'],
      ]),
    });
    expectComplete(reply);
    expect(environOf(reply)).toMatchObject({
      REQUEST_METHOD: 'GET',
      QUERY_STRING: 'x=1&y=%20',
      PATH_INFO: '/env',
      HTTP_X_A: 'one, two',
      FCGI_ROLE: 'RESPONDER',
      'sluice.protocol': 'fastcgi',
    });
  });

  test('POST: the body comes back byte for byte', async () => {
    const body = Buffer.from('\x00\xff binary \r\n body', 'latin1');
    const reply = await fcgiRequest(address(), {
      params: fcgiParams('POST', '/echo', [['CONTENT_LENGTH', String(body.length)]]),
      stdin: body,
    });
    expectComplete(reply);
    expect(reply.response().body.equals(body)).toBe(true);
  });

  test('POST of 10 MiB reaches the app intact', async () => {
    const body = pattern(10 * MiB);
    const reply = await fcgiRequest(address(), {
      params: fcgiParams('POST', '/hash', [['CONTENT_LENGTH', String(body.length)]]),
      stdin: body,
    });
    expectComplete(reply);
    expect(JSON.parse(reply.response().body.toString())).toMatchObject({
      bytes: body.length,
      sha256: sha256(body),
    });
  });

  test('a 10 MiB response arrives intact in records padded to 8 of at most 65535 bytes', async () => {
    const size = 10 * MiB;
    const client = await connect(address());
    const reply = await client.request(1, { params: fcgiParams('GET', `/stream?bytes=${size}`) });
    expectComplete(reply);
    const response = reply.response();
    expect(response.body.length).toBe(size);
    expect(sha256(response.body)).toBe(sha256(pattern(size)));
    expect(client.records.length).toBeGreaterThan(size / 65535);
    for (const record of client.records) {
      expect(record.contentLength).toBeLessThanOrEqual(65535);
      expect((record.contentLength + record.paddingLength) % 8).toBe(0);
    }
    // Large writes are cut at the 16-bit limit, not in small pieces.
    expect(Math.max(...client.records.map((r) => r.contentLength))).toBeGreaterThan(32768);
  });
});

test('reply records carry the exact request id: 1, 2, 300, 65535 on one connection', async () => {
  const client = await connect(tcp);
  const ids = [1, 2, 300, 65535];
  await client.send(
    ids.flatMap((id) => requestRecords(id, { params: fcgiParams('GET', `/stream?bytes=${100_000 + id}`) })),
  );
  for (const id of ids) {
    const reply = await client.waitEnd(id);
    expectComplete(reply);
    expect(reply.response().body.length).toBe(100_000 + id);
  }
  // Every record went to one of the ids asked, and each id got STDOUT, its terminator and END_REQUEST.
  expect(new Set(client.records.map((r) => r.requestId))).toEqual(new Set(ids));
  for (const id of ids) {
    const types = client.records.filter((r) => r.requestId === id).map((r) => r.type);
    expect(types.at(-1)).toBe(FCGI_END_REQUEST);
    expect(types.filter((t) => t === FCGI_END_REQUEST)).toHaveLength(1);
  }
});

describe('FCGI_KEEP_CONN', () => {
  test('set: one connection serves request after request with the same id and stays open', async () => {
    const client = await connect(unix);
    for (let n = 0; n < 3; n++) {
      const reply = await client.request(1, { params: fcgiParams('GET', `/env?n=${n}`) });
      expectComplete(reply);
      expect(environOf(reply).QUERY_STRING).toBe(`n=${n}`);
      client.replies.delete(1);
    }
    expect(await client.closesWithin(100)).toBe(false);
  });

  test('set: 100 requests sent at once, then read, all complete and the connection stays open', async () => {
    const client = await connect(tcp);
    const ids = Array.from({ length: 100 }, (_, i) => i + 1);
    await client.send(ids.flatMap((id) => requestRecords(id, { params: fcgiParams('GET', `/env?n=${id}`) })));
    for (const id of ids) {
      const reply = await client.waitEnd(id);
      expectComplete(reply);
      const environ = environOf(reply);
      expect(environ.QUERY_STRING).toBe(`n=${id}`);
      expect(environ.FCGI_ROLE).toBe('RESPONDER');
    }
    expect(await client.closesWithin(100)).toBe(false);
    client.replies.delete(1);
    expect((await client.request(1, { params: fcgiParams('GET', '/missing') })).response().status).toBe(404);
  });

  test('set, with 2 MiB of body the app never reads: the rest is ignored, the next request is served', async () => {
    const client = await connect(unix);
    const body = pattern(2 * MiB);
    await client.begin(1, {
      params: fcgiParams('POST', '/missing', [['CONTENT_LENGTH', String(body.length)]]),
      stdin: body,
    });
    expect((await client.waitEnd(1)).response().status).toBe(404);
    expectResponder(await client.request(2, { params: fcgiParams('GET', '/env') }));
    expect(client.closed).toBe(false);
  });

  test('unset: the daemon closes the connection after END_REQUEST', async () => {
    const client = await connect(unix);
    const reply = await client.request(1, { params: fcgiParams('GET', '/env'), keepConn: false });
    expectResponder(reply);
    await client.waitClose(2000);
    expect(client.closedAt!).toBeGreaterThanOrEqual(reply.end!.at);
    expect(client.error).toBeUndefined();
  });

  test('unset, with 2 MiB of body the app never reads: the whole response arrives, no reset', async () => {
    const truncated = (l: Record<string, unknown>): boolean => l.code === 'ERR_FCGI_TRUNCATED';
    const before = logCount(daemon, truncated);
    const client = await connect(tcp);
    const body = pattern(2 * MiB);
    await client.begin(1, {
      params: fcgiParams('POST', '/missing', [['CONTENT_LENGTH', String(body.length)]]),
      stdin: body,
      keepConn: false,
    });
    const reply = await client.waitEnd(1);
    expectComplete(reply);
    const response = reply.response();
    expect(response.status).toBe(404);
    expect(response.body.toString()).toBe('no such thing\n');
    await client.waitClose(5000);
    // The daemon drained the unread input before closing: no ECONNRESET, every byte parsed.
    expect(client.error).toBeUndefined();
    // Nor did it take the end of the input it was discarding for a truncated record.
    await new Promise((r) => setTimeout(r, 50));
    expect(logCount(daemon, truncated)).toBe(before);
  });
});

describe('PARAMS', () => {
  test('pairs straddling 7-byte records are put back together', async () => {
    const client = await connect(unix);
    const reply = await client.request(1, {
      params: fcgiParams('GET', '/env?straddle=1', [
        ['HTTP_X_LONG', 'l'.repeat(300)],
        ['HTTP_X_SHORT', 's'],
      ]),
      paramsMaxContent: 7,
    });
    expectComplete(reply);
    expect(environOf(reply)).toMatchObject({
      QUERY_STRING: 'straddle=1',
      HTTP_X_LONG: 'l'.repeat(300),
      HTTP_X_SHORT: 's',
    });
  });

  test('a 70 kB value spanning several records passes', async () => {
    const value = 'v'.repeat(70_000);
    const reply = await fcgiRequest(unix, { params: fcgiParams('GET', '/env', [['HTTP_X_BIG', value]]) });
    expectComplete(reply);
    expect(environOf(reply).HTTP_X_BIG).toBe(value);
  });

  test('an empty value is kept, distinct from a name never sent', async () => {
    const reply = await fcgiRequest(unix, { params: fcgiParams('GET', '/env', [['HTTP_X_EMPTY', '']]) });
    const environ = environOf(reply);
    expect(environ).toHaveProperty('HTTP_X_EMPTY', '');
    expect(environ).not.toHaveProperty('HTTP_X_ABSENT');
  });

  test('PARAMS beyond 1 MiB end that request with 431; the connection serves the next', async () => {
    const client = await connect(unix);
    const before = logCount(daemon, (l) => l.code === 'ERR_FCGI_PARAMS_TOO_LARGE');
    await client.begin(1, { params: fcgiParams('GET', '/env', [['HTTP_X_HUGE', 'h'.repeat(MiB + 1000)]]) });
    const reply = await client.waitEnd(1);
    expect(reply.response().status).toBe(431);
    expect(reply.stdoutEnds).toBe(1);
    expect(reply.end!.protocolStatus).toBe(FCGI_REQUEST_COMPLETE);
    await waitForLogs((l) => l.code === 'ERR_FCGI_PARAMS_TOO_LARGE', before);
    expectResponder(await client.request(2, { params: fcgiParams('GET', '/env') }));
  });
});

describe('multiplexing', () => {
  test('two 4 MiB responses on one connection interleave', async () => {
    const size = 4 * MiB;
    const client = await connect(tcp);
    await client.send([
      ...requestRecords(1, { params: fcgiParams('GET', `/stream?bytes=${size}`) }),
      ...requestRecords(2, { params: fcgiParams('GET', `/stream?bytes=${size}`) }),
    ]);
    const [one, two] = [await client.waitEnd(1), await client.waitEnd(2)];
    for (const reply of [one, two]) {
      expectComplete(reply);
      expect(sha256(reply.response().body)).toBe(sha256(pattern(size)));
    }
    const stdout = client.records.filter((r) => r.type === FCGI_STDOUT && r.contentLength > 0);
    const ids = stdout.map((r) => r.requestId);
    const first = (id: number): number => ids.indexOf(id);
    const last = (id: number): number => ids.lastIndexOf(id);
    // Neither response waited for the other to finish.
    expect(first(2)).toBeLessThan(last(1));
    expect(first(1)).toBeLessThan(last(2));
    let switches = 0;
    for (let i = 1; i < stdout.length; i++) if (stdout[i].requestId !== stdout[i - 1].requestId) switches++;
    expect(switches).toBeGreaterThanOrEqual(4);
  });

  test('a request that never reads its body neither stalls its neighbours nor grows memory', async () => {
    const client = await connect(unix);
    // GET_VALUES marks the connection as shared: from then on unread bodies are spooled, not paused.
    await client.getValues([FCGI_MPXS_CONNS]);
    await client.waitFor(() => client.getValuesResults.length === 1, 2000, 'GET_VALUES_RESULT');
    const aborted = logCount(daemon, (l) => l.probe === 'aborted');
    const baseline = residentBytes(daemon.pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, residentBytes(daemon.pid))), 5);
    const neighbour = async (id: number): Promise<void> => {
      const small = pattern(1024);
      await client.send(
        requestRecords(id, {
          params: fcgiParams('POST', '/env', [['CONTENT_LENGTH', String(small.length)]]),
          stdin: small,
        }),
      );
      const reply = await client.waitEnd(id, 3000);
      expectComplete(reply);
      expect(environOf(reply).REQUEST_METHOD).toBe('POST');
    };
    const total = 100 * MiB;
    try {
      await client.send([
        beginRequestRecord(1, 1, 1),
        ...paramsRecords(1, fcgiParams('POST', '/wait-abort', [['CONTENT_LENGTH', String(total)]])),
      ]);
      // First 10 MiB of A's body, then B: answered at once although A reads nothing.
      const started = Date.now();
      void client.send(stdinRecords(1, pattern(10 * MiB)));
      await neighbour(2);
      const elapsed = Date.now() - started;
      // 10 MiB through the socket into the spool and a 1 KiB request answered: well under a second.
      expect(elapsed).toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 100));
      const peakAt10 = Math.max(peak, residentBytes(daemon.pid));
      // Bound: baseline + 2 × 1 MiB (limits.bodyMemoryBytes, the spool's memory cap, for A and
      // B) + 40 MB slack for socket buffers, V8 heap growth and garbage not yet collected.
      expect(peakAt10).toBeLessThanOrEqual(baseline + 2 * MiB + 40e6);

      // The other 90 MiB: memory must not follow the body. Before the spool's file writes were
      // bounded, every chunk waiting for the disk stayed in memory (≈ 110 MB of growth here).
      void client.send(stdinRecords(1, Buffer.alloc(total - 10 * MiB, 7)));
      await neighbour(3);
      await new Promise((r) => setTimeout(r, 300));
      peak = Math.max(peak, residentBytes(daemon.pid));
      if (process.env.SLUICE_TEST_VERBOSE) {
        console.info(
          `RSS baseline ${baseline}, peak after 10 MiB ${peakAt10} (+${peakAt10 - baseline}), ` +
            `after 100 MiB ${peak} (+${peak - baseline})`,
        );
      }
      expect(peak - baseline).toBeLessThan(64e6);
      expect(client.reply(1).end).toBeUndefined();
    } finally {
      clearInterval(sampler);
    }
    await client.abort(1);
    expect((await client.waitEnd(1, 1000)).end!.protocolStatus).toBe(FCGI_REQUEST_COMPLETE);
    await waitForLogs((l) => l.probe === 'aborted', aborted);
    expect(await client.closesWithin(50)).toBe(false);
  });

  test('beyond 256 requests on one connection the extra ones get a 503 and FCGI_OVERLOADED, the rest complete', async () => {
    const client = await connect(tcp);
    const ids = Array.from({ length: 300 }, (_, i) => i + 1);
    await client.send(ids.flatMap((id) => requestRecords(id, { params: fcgiParams('GET', '/slow?ms=300') })));
    const replies = await Promise.all(ids.map((id) => client.waitEnd(id, 10_000)));
    const overloaded = replies.filter((r) => r.end!.protocolStatus === FCGI_OVERLOADED);
    expect(overloaded.map((r) => r.id)).toEqual(ids.slice(256));
    // Front ends ignore the protocol status; the 503 is what reaches the client.
    for (const reply of overloaded) expect(reply.response().status).toBe(503);
    for (const reply of replies.slice(0, 256)) {
      expectComplete(reply);
      expect(reply.response().body.toString()).toBe('slept 300\n');
    }
    expect(await client.closesWithin(50)).toBe(false);
  });
});

describe('management records', () => {
  const asked = [FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS, 'FCGI_NO_SUCH_VARIABLE'];
  const expected = {
    [FCGI_MAX_CONNS]: expect.stringMatching(/^[1-9]\d*$/),
    [FCGI_MAX_REQS]: '256',
    [FCGI_MPXS_CONNS]: '1',
  };

  test('GET_VALUES first on a connection: the names asked and understood, on id 0', async () => {
    const client = await connect(unix);
    await client.getValues(asked);
    await client.waitFor(() => client.getValuesResults.length === 1, 2000, 'GET_VALUES_RESULT');
    expect(client.getValuesResults[0]).toEqual(expected);
    expect(Object.keys(client.getValuesResults[0]).sort()).toEqual(asked.slice(0, 3).sort());
    expect(client.records[0]).toMatchObject({ type: FCGI_GET_VALUES_RESULT, requestId: 0 });
    expectResponder(await client.request(1, { params: fcgiParams('GET', '/env') }));
  });

  test('GET_VALUES in the middle of a request: answered at once, the connection goes on', async () => {
    const client = await connect(tcp);
    await client.begin(1, { params: fcgiParams('GET', '/slow?ms=300') });
    await client.getValues([FCGI_MAX_REQS]);
    await client.waitFor(() => client.getValuesResults.length === 1, 2000, 'GET_VALUES_RESULT');
    expect(client.getValuesResults[0]).toEqual({ [FCGI_MAX_REQS]: '256' });
    expect(client.reply(1).end).toBeUndefined();
    expectComplete(await client.waitEnd(1));
    expectResponder(await client.request(2, { params: fcgiParams('GET', '/env') }));
  });

  test('an unknown management record type gets UNKNOWN_TYPE with that type; the connection goes on', async () => {
    const client = await connect(unix);
    await client.send(rawRecord(20, 0, Buffer.alloc(8)));
    await client.waitFor(() => client.unknownTypes.length === 1, 2000, 'UNKNOWN_TYPE');
    expect(client.unknownTypes).toEqual([20]);
    expect(client.records[0]).toMatchObject({ type: FCGI_UNKNOWN_TYPE, requestId: 0 });
    expectResponder(await client.request(1, { params: fcgiParams('GET', '/env') }));
  });
});

test('ABORT_REQUEST: END_REQUEST at once, the app sees the signal, nothing more for that id', async () => {
  const client = await connect(unix);
  const before = logCount(daemon, (l) => l.probe === 'aborted');
  await client.begin(1, { params: fcgiParams('GET', '/wait-abort') });
  await new Promise((r) => setTimeout(r, 100));
  const sent = client.now();
  await client.abort(1);
  const reply = await client.waitEnd(1, 1000);
  expect(reply.end!.at - sent).toBeLessThan(500);
  expect(reply.end!.protocolStatus).toBe(FCGI_REQUEST_COMPLETE);
  await waitForLogs((l) => l.probe === 'aborted', before);
  await new Promise((r) => setTimeout(r, 100));
  const forOne = client.records.filter((r) => r.requestId === 1);
  expect(forOne.at(-1)!.type).toBe(FCGI_END_REQUEST);
  expect(forOne.filter((r) => r.type === FCGI_END_REQUEST)).toHaveLength(1);
  expect(client.closed).toBe(false);
  expectResponder(await client.request(2, { params: fcgiParams('GET', '/env') }));
});

test('ABORT_REQUEST in the middle of a response: END_REQUEST, the generator is finished', async () => {
  const client = await connect(tcp);
  const finished = (l: Record<string, unknown>): boolean => l.probe === 'drip-finished' && l.aborted === true;
  const before = logCount(daemon, finished);
  await client.begin(1, { params: fcgiParams('GET', '/drip') });
  await client.waitFor(() => client.reply(1).chunks.length > 0, 2000, 'the first /drip bytes');
  const sent = client.now();
  await client.abort(1);
  const reply = await client.waitEnd(1, 1000);
  expect(reply.end!.at - sent).toBeLessThan(500);
  expect(reply.stdoutEnds).toBe(0);
  await waitForLogs(finished, before);
  await new Promise((r) => setTimeout(r, 50));
  expect(client.records.filter((r) => r.requestId === 1).at(-1)!.type).toBe(FCGI_END_REQUEST);
  expectResponder(await client.request(2, { params: fcgiParams('GET', '/env') }));
});

describe('roles', () => {
  test('an unknown role gets FCGI_UNKNOWN_ROLE; the connection goes on', async () => {
    const client = await connect(unix);
    const reply = await client.request(1, { params: fcgiParams('GET', '/env'), role: 9 });
    expect(reply.end).toMatchObject({ protocolStatus: FCGI_UNKNOWN_ROLE });
    expect(reply.chunks).toHaveLength(0);
    expectResponder(await client.request(2, { params: fcgiParams('GET', '/env') }));
  });

  test('an unknown role without FCGI_KEEP_CONN: END_REQUEST, then the daemon closes', async () => {
    const client = await connect(tcp);
    const reply = await client.request(1, { params: fcgiParams('GET', '/env'), role: 9, keepConn: false });
    expect(reply.end).toMatchObject({ protocolStatus: FCGI_UNKNOWN_ROLE });
    await client.waitClose(2000);
    expect(client.error).toBeUndefined();
  });

  test('AUTHORIZER: FCGI_ROLE in the environ, answered without any STDIN', async () => {
    const client = await connect(unix);
    const reply = await client.request(1, {
      params: [
        ['REQUEST_METHOD', 'GET'],
        ['REQUEST_URI', '/env'],
        ['REMOTE_USER', 'alice'],
      ],
      role: FCGI_AUTHORIZER,
      endStdin: false,
    });
    expectComplete(reply);
    expect(environOf(reply, 'AUTHORIZER')).toMatchObject({ REMOTE_USER: 'alice' });
  });

  describe('FILTER', () => {
    let filter: Daemon;
    beforeAll(async () => {
      filter = await startDaemon('test/fixtures/apps/filter.mjs', ['--fastcgi', '127.0.0.1:0']);
    });
    afterAll(async () => {
      if (filter) expect(await filter.stop()).toBe(0);
    });

    test('STDIN, then DATA with FCGI_DATA_LENGTH and FCGI_DATA_LAST_MOD', async () => {
      const body = pattern(3000);
      const data = pattern(200_000);
      const reply = await fcgiRequest(filter.addresses.fastcgi![0], {
        params: fcgiParams('POST', '/filtered', [
          ['CONTENT_LENGTH', String(body.length)],
          ['FCGI_DATA_LENGTH', String(data.length)],
          ['FCGI_DATA_LAST_MOD', '1700000000'],
        ]),
        role: FCGI_FILTER,
        stdin: body,
        data,
      });
      expectComplete(reply);
      expect(JSON.parse(reply.response().body.toString())).toEqual({
        role: 'FILTER',
        input: { bytes: body.length, sha256: sha256(body) },
        data: { bytes: data.length, sha256: sha256(data) },
        FCGI_DATA_LENGTH: String(data.length),
        FCGI_DATA_LAST_MOD: '1700000000',
      });
    });
  });
});

describe('output streams', () => {
  test('sluice.errors becomes STDERR after the STDOUT head; one empty STDOUT, as the terminator', async () => {
    const client = await connect(unix);
    const reply = await client.request(1, { params: fcgiParams('GET', '/errors') });
    expectComplete(reply);
    expect(reply.response().body.toString()).toBe('ok\n');
    expect(reply.stderr).toContain('probe wrote to sluice.errors');
    const types = client.records.map((r) => (r.contentLength === 0 ? -r.type : r.type));
    // STDOUT data first, then the STDERR text, the empty STDOUT and STDERR, END_REQUEST last.
    expect(types.indexOf(FCGI_STDOUT)).toBe(0);
    expect(types.indexOf(FCGI_STDERR)).toBeGreaterThan(0);
    expect(types.filter((t) => t === -FCGI_STDOUT)).toHaveLength(1);
    expect(types.lastIndexOf(FCGI_STDOUT)).toBeLessThan(types.indexOf(-FCGI_STDOUT));
    expect(types.at(-1)).toBe(FCGI_END_REQUEST);
  });

  test('a plain response: exactly one empty STDOUT, no STDERR', async () => {
    const client = await connect(unix);
    const reply = await client.request(1, { params: fcgiParams('GET', '/stream?bytes=300000') });
    expectComplete(reply);
    const types = client.records.map((r) => (r.contentLength === 0 ? -r.type : r.type));
    expect(types.filter((t) => t === -FCGI_STDOUT)).toHaveLength(1);
    expect(types.slice(-2)).toEqual([-FCGI_STDOUT, FCGI_END_REQUEST]);
    expect(types.some((t) => Math.abs(t) === FCGI_STDERR)).toBe(false);
  });

  test('an app error before the head: 500 and END_REQUEST', async () => {
    const reply = await fcgiRequest(unix, { params: fcgiParams('GET', '/error') });
    expectComplete(reply);
    expect(reply.response().status).toBe(500);
    expect(reply.response().body.toString()).toBe('Internal Server Error\n');
  });

  test('an app error after the head: no empty STDOUT, a STDERR line, appStatus not 0', async () => {
    const client = await connect(tcp);
    const reply = await client.request(1, { params: fcgiParams('GET', '/error-after-head') });
    expect(reply.stdoutEnds).toBe(0);
    expect(reply.response().body.toString()).toBe('partial body');
    expect(reply.stderr).toMatch(/response aborted/);
    expect(reply.end!.appStatus).not.toBe(0);
  });

  test('app error after the head on a shared connection: the terminator is sent, the others go on', async () => {
    const client = await connect(unix);
    await client.getValues([FCGI_MPXS_CONNS]);
    await client.begin(2, { params: fcgiParams('GET', '/slow?ms=200') });
    const reply = await client.request(1, { params: fcgiParams('GET', '/error-after-head') });
    expect(reply.stdoutEnds).toBe(1);
    expect(reply.stderr).toMatch(/response aborted/);
    expect(reply.end!.appStatus).not.toBe(0);
    expectComplete(await client.waitEnd(2));
    expect(await client.closesWithin(50)).toBe(false);
  });

  test('a declared body over --max-body-bytes is answered 413 before the app runs', async () => {
    const small = await startDaemon(APP, ['--fastcgi', '127.0.0.1:0', '--max-body-bytes', '1000']);
    try {
      const client = await connect(small.addresses.fastcgi![0]);
      const reply = await client.request(1, {
        params: fcgiParams('POST', '/hash', [['CONTENT_LENGTH', '5000']]),
        stdin: Buffer.alloc(5000),
      });
      expect(reply.response().status).toBe(413);
      const ok = await client.request(3, { params: fcgiParams('GET', '/missing') });
      expect(ok.response().status).toBe(404);
    } finally {
      expect(await small.stop()).toBe(0);
    }
  });

  test('over --max-concurrent: a 503 with FCGI_OVERLOADED, or with REQUEST_COMPLETE on a shared connection', async () => {
    const busy = await startDaemon(APP, ['--fastcgi', '127.0.0.1:0', '--max-concurrent', '1']);
    try {
      const address = busy.addresses.fastcgi![0];
      const holder = await connect(address);
      await holder.begin(1, { params: fcgiParams('GET', '/slow?ms=600') });
      await new Promise((r) => setTimeout(r, 100));
      const plain = await connect(address);
      const refused = await plain.request(1, { params: fcgiParams('GET', '/env') });
      expect(refused.end!.protocolStatus).toBe(FCGI_OVERLOADED);
      expect(refused.response().status).toBe(503);
      // HAProxy closes a multiplexed connection on FCGI_OVERLOADED, failing its other streams.
      const shared = await connect(address);
      await shared.getValues([FCGI_MPXS_CONNS]);
      const answered = await shared.request(1, { params: fcgiParams('GET', '/env') });
      expect(answered.end!.protocolStatus).toBe(FCGI_REQUEST_COMPLETE);
      expect(answered.response().status).toBe(503);
      expectComplete(await holder.waitEnd(1));
    } finally {
      expect(await busy.stop()).toBe(0);
    }
  });

  test('a request that paused the socket switches to the spool once the connection turns shared', async () => {
    const client = await connect(tcp);
    // Request 1 never reads its body. Alone on the connection it pauses the socket once its body
    // fills the stream buffer (64 KiB); request 3 arrives in the same read and makes the connection
    // shared, so request 1 must move to the spool and let the socket go: request 5 and the rest of
    // request 1's body come after the pause.
    await client.send([
      beginRequestRecord(1, FCGI_RESPONDER, FCGI_KEEP_CONN),
      ...paramsRecords(1, fcgiParams('POST', '/wait-abort', [['CONTENT_LENGTH', String(64 * MiB)]])),
      ...stdinRecords(1, Buffer.alloc(70 * 1024)),
      ...requestRecords(3, { params: fcgiParams('GET', '/env') }),
    ]);
    expectComplete(await client.waitEnd(3, 5000));
    // 96 MiB more of the body nobody reads: spooled (1 MiB in memory), not piled up in the stream.
    // Measured: about +40 MB of RSS (garbage not yet collected) with the switch, over +100 MB without.
    const before = residentBytes(daemon.pid);
    const chunk = Buffer.alloc(MiB);
    for (let i = 0; i < 96; i++) await client.send(stdinRecords(1, chunk));
    await client.send(requestRecords(5, { params: fcgiParams('GET', '/env') }));
    expectComplete(await client.waitEnd(5, 10_000));
    expect(residentBytes(daemon.pid) - before).toBeLessThan(64 * MiB);
    await client.abort(1);
    await client.waitEnd(1, 2000);
  });

  test('a body-less POST with CONTENT_LENGTH 0 and no empty STDIN still gets its response (haproxy #2499)', async () => {
    const client = await connect(unix);
    const reply = await client.request(1, {
      params: fcgiParams('POST', '/hash', [['CONTENT_LENGTH', '0']]),
      endStdin: false,
    });
    expectComplete(reply);
    expect(JSON.parse(reply.response().body.toString())).toMatchObject({ bytes: 0, contentLength: '0' });
  });
});

describe('bad input: a log line with a stable code, and the daemon keeps serving', () => {
  const begin = (id: number): Buffer => beginRequestRecord(id, 1, 1);

  test.each<[string, () => Buffer[], string, 'closed' | 'request']>([
    [
      'a wrong version byte after a good request',
      () => [rawRecord(FCGI_BEGIN_REQUEST, 2, Buffer.from([0, 1, 1, 0, 0, 0, 0, 0]), { version: 2 })],
      'ERR_FCGI_BAD_VERSION',
      'closed',
    ],
    [
      'BEGIN_REQUEST for an active id',
      () => [begin(7), ...paramsRecords(7, fcgiParams('GET', '/wait-abort')), begin(7)],
      'ERR_FCGI_DUPLICATE_REQUEST',
      'closed',
    ],
    [
      'BEGIN_REQUEST with a 4-byte body',
      () => [rawRecord(FCGI_BEGIN_REQUEST, 7, Buffer.from([0, 1, 1, 0]))],
      'ERR_FCGI_BAD_BEGIN_LENGTH',
      'closed',
    ],
    [
      'STDIN before PARAMS ended',
      () => [
        begin(7),
        rawRecord(FCGI_PARAMS, 7, encodePairs(fcgiParams('POST', '/env'))),
        rawRecord(FCGI_STDIN, 7, Buffer.from('body')),
      ],
      'ERR_FCGI_STDIN_BEFORE_PARAMS_END',
      'request',
    ],
    [
      'an absurd pair length',
      () => [
        begin(7),
        rawRecord(FCGI_PARAMS, 7, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01, 0x41, 0x42])),
        streamEndRecord(FCGI_PARAMS, 7),
      ],
      'ERR_FCGI_BAD_PAIR',
      'request',
    ],
    [
      'STDIN after the empty STDIN',
      () => [
        ...requestRecords(7, { params: fcgiParams('GET', '/slow?ms=200') }),
        rawRecord(FCGI_STDIN, 7, Buffer.from('more')),
      ],
      'ERR_FCGI_STREAM_AFTER_END',
      'request',
    ],
    [
      'a management record on a request id',
      () => [begin(7), rawRecord(FCGI_GET_VALUES, 7, encodePairs([[FCGI_MAX_REQS, '']]))],
      'ERR_FCGI_MANAGEMENT_ON_REQUEST_ID',
      'request',
    ],
    [
      'a STDOUT record from the web server',
      () => [begin(7), rawRecord(FCGI_STDOUT, 7, Buffer.from('reply?'))],
      'ERR_FCGI_UNEXPECTED_TYPE',
      'request',
    ],
  ])('%s', async (_name, records, code, outcome) => {
    const client = await connect(unix);
    expectResponder(await client.request(1, { params: fcgiParams('GET', '/env') }));
    const before = logCount(daemon, (l) => l.code === code);
    await client.send(records());
    await waitForLogs((l) => l.code === code, before);
    if (outcome === 'closed') {
      await client.waitClose(2000);
    } else {
      // Only that request ends, with a 400 and END_REQUEST; the connection serves the next one.
      const failed = await client.waitEnd(7, 2000);
      expect(failed.response().status).toBe(400);
      expect(failed.end!.protocolStatus).toBe(FCGI_REQUEST_COMPLETE);
      expectResponder(await client.request(2, { params: fcgiParams('GET', '/env') }));
      expect(client.closed).toBe(false);
    }
    await stillServes();
  });

  test('a truncated record, then the connection closed', async () => {
    const client = await connect(unix);
    const before = logCount(daemon, (l) => l.code === 'ERR_FCGI_TRUNCATED');
    await client.send(beginRequestRecord(1, 1, 1).subarray(0, 11));
    client.socket.end();
    await waitForLogs((l) => l.code === 'ERR_FCGI_TRUNCATED', before);
    await client.waitClose(2000);
    await stillServes();
  });

  test('an HTTP request on the FastCGI port gets an HTTP 400 in plain text', async () => {
    const before = logCount(daemon, (l) => l.code === 'ERR_FCGI_NOT_FASTCGI');
    const raw = await exchange(tcp, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 5000);
    expect(raw.toString('latin1')).toMatch(/^HTTP\/1\.[01] 400 Bad Request\r\n/);
    expect(raw.toString('latin1')).toMatch(/FastCGI/);
    await waitForLogs((l) => l.code === 'ERR_FCGI_NOT_FASTCGI', before);
    await stillServes(tcp);
  });
});

test('records for inactive request ids are ignored', async () => {
  const client = await connect(unix);
  // Id 5 never began; id 1 is finished before its stray records arrive.
  expectResponder(await client.request(1, { params: fcgiParams('GET', '/env') }));
  await client.send([
    ...paramsRecords(5, fcgiParams('GET', '/env')),
    ...stdinRecords(5, Buffer.from('stray')),
    streamEndRecord(FCGI_STDIN, 5),
    rawRecord(FCGI_DATA, 5, Buffer.from('stray')),
    rawRecord(FCGI_ABORT_REQUEST, 5),
    ...stdinRecords(1, Buffer.from('late')),
    rawRecord(FCGI_ABORT_REQUEST, 1),
  ]);
  expectResponder(await client.request(2, { params: fcgiParams('GET', '/env') }));
  expect(new Set(client.records.map((r) => r.requestId))).toEqual(new Set([1, 2]));
  expect(client.records.filter((r) => r.requestId === 1 && r.type === FCGI_END_REQUEST)).toHaveLength(1);
  expect(client.closed).toBe(false);
});

describe('the front end goes away', () => {
  test('mid-request: the app sees the abort signal, the daemon survives', async () => {
    const client = await connect(unix);
    const before = logCount(daemon, (l) => l.probe === 'aborted');
    await client.begin(1, {
      params: fcgiParams('POST', '/wait-abort', [['CONTENT_LENGTH', '1000']]),
      stdin: Buffer.alloc(100),
      endStdin: false,
    });
    await new Promise((r) => setTimeout(r, 100));
    client.destroy();
    await waitForLogs((l) => l.probe === 'aborted', before);
    await stillServes();
  });

  test('mid-response: the app stops and its generator is finished', async () => {
    const client = await connect(tcp);
    const finished = (l: Record<string, unknown>): boolean =>
      l.probe === 'drip-finished' && l.aborted === true;
    const before = logCount(daemon, finished);
    await client.begin(1, { params: fcgiParams('GET', '/drip') });
    await client.waitFor(() => client.reply(1).chunks.length > 0, 2000, 'the first /drip bytes');
    client.destroy();
    await waitForLogs(finished, before);
    await stillServes(tcp);
  });
});

describe('SIGTERM', () => {
  test('a connection opened just before SIGTERM, its first request not sent yet, is served then closed', async () => {
    const stopping = await startDaemon(APP, ['--fastcgi', '127.0.0.1:0']);
    try {
      const fresh = await connect(stopping.addresses.fastcgi![0]);
      // Accepted by now; the front end's request follows the signal.
      await new Promise((r) => setTimeout(r, 150));
      const exit = stopping.stop('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
      const reply = await fresh.request(1, { params: fcgiParams('GET', '/env'), keepConn: true }, 3000);
      expectComplete(reply);
      expect(reply.response().status).toBe(200);
      await fresh.waitClose(3000);
      expect(fresh.error).toBeUndefined();
      expect(await exit).toBe(0);
    } finally {
      await stopping.stop('SIGKILL');
    }
  });

  test('an idle kept connection closes at once, a busy one after its last END_REQUEST', async () => {
    const stopping = await startDaemon(APP, ['--fastcgi', '127.0.0.1:0', '--log-level', 'debug']);
    try {
      const address = stopping.addresses.fastcgi![0];
      const idle = await connect(address);
      expectResponder(await idle.request(1, { params: fcgiParams('GET', '/env') }));
      const busy = await connect(address);
      await busy.begin(1, { params: fcgiParams('GET', '/slow?ms=700') });
      await busy.begin(2, { params: fcgiParams('GET', '/slow?ms=400') });
      await new Promise((r) => setTimeout(r, 100));
      const signalled = Date.now();
      const exit = stopping.stop('SIGTERM');
      await idle.waitClose(1000);
      expect(Date.now() - signalled).toBeLessThan(500);
      const [first, last] = [await busy.waitEnd(2, 3000), await busy.waitEnd(1, 3000)];
      for (const reply of [first, last]) {
        expectComplete(reply);
        expect(reply.response().status).toBe(200);
      }
      await busy.waitClose(3000);
      expect(busy.closedAt!).toBeGreaterThanOrEqual(last.end!.at);
      expect(busy.error).toBeUndefined();
      expect(await exit).toBe(0);
    } finally {
      await stopping.stop('SIGKILL');
    }
  });
});
