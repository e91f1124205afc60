// The faults: misbehaving clients and front ends, apps that hang or throw, requests at and past the
// limits. Each scenario checks the daemon's answer to its own faults; harness.ts checks the daemon
// afterwards. Every scenario spreads its faults over both protocols, on Unix sockets and loopback TCP.
import { encodedPairsLength } from '../../src/fastcgi/pairs';
import { serializeScgiHeaders } from '../../src/scgi/serializer';
import { setTimeout as sleep } from 'node:timers/promises';
import { fcgiParams, fcgiRequest, requestRecords, until } from '../helpers/fastcgi';
import { requestVariables, scgiRequest } from '../helpers/scgi';
import {
  HEADER_TIMEOUT_MS,
  MAX_BODY_BYTES,
  MAX_HEADER_BYTES,
  MAX_PARAMS_BYTES,
  REQUEST_TIMEOUT_MS,
  scaled,
  type FaultScenario,
  type FaultTarget,
} from './harness';
import { openConnections, type Closed, type RawConnection } from './raw-connection';

type Protocol = 'scgi' | 'fastcgi';
type Variables = Array<[string, string]>;

interface Endpoint {
  protocol: Protocol;
  address: string;
  tcp: boolean;
}

/** The i-th of the four listeners, round robin: SCGI and FastCGI, each on Unix and TCP. */
function endpoint(target: FaultTarget, i: number): Endpoint {
  const protocol: Protocol = i % 2 === 0 ? 'scgi' : 'fastcgi';
  const tcp = i % 4 >= 2;
  return { protocol, tcp, address: target[protocol][tcp ? 'tcp' : 'unix'] };
}

/** A whole request as the front end would send it; `head` is where its headers (PARAMS) end. */
function requestBytes(
  protocol: Protocol,
  vars: Variables,
  body: Buffer = Buffer.alloc(0),
): { bytes: Buffer; head: number } {
  if (protocol === 'scgi') {
    const head = serializeScgiHeaders(vars, body.length);
    return { bytes: Buffer.concat([head, body]), head: head.length };
  }
  const params =
    body.length > 0 ? [...vars, ['CONTENT_LENGTH', String(body.length)] as [string, string]] : vars;
  const head = Buffer.concat(requestRecords(1, { params, keepConn: false, endStdin: false }));
  const bytes = Buffer.concat(
    requestRecords(1, { params, keepConn: false, stdin: body.length > 0 ? body : undefined }),
  );
  return { bytes, head: head.length };
}

/** The status line the daemon wrote (the first STDOUT record's, over FastCGI), or undefined. */
function statusIn(received: Buffer): number | undefined {
  const match = /Status: (\d{3})/.exec(received.toString('latin1'));
  return match === null ? undefined : Number(match[1]);
}

function probeLines(target: FaultTarget, probe: string, extra: Record<string, unknown> = {}): number {
  return target
    .logLines()
    .filter((l) => l.probe === probe && Object.entries(extra).every(([k, v]) => l[k] === v)).length;
}

/** Connections opened round robin over the four listeners, with their endpoints. */
async function connections(
  target: FaultTarget,
  count: number,
  allowHalfOpen = false,
): Promise<Array<{ connection: RawConnection; at: Endpoint; i: number }>> {
  const opened = await openConnections((i) => endpoint(target, i).address, count, allowHalfOpen);
  return opened.map((connection, i) => ({ connection, at: endpoint(target, i), i }));
}

function closedByDaemon(all: Array<{ connection: RawConnection }>, timeoutMs: number): Promise<Closed[]> {
  return Promise.all(all.map(({ connection }) => connection.closedByDaemon(timeoutMs)));
}

/** A deterministic spread of cut points, so that a failure can be run again. */
const cutAt = (i: number, length: number): number => 1 + ((i * 7919) % (length - 1));

const slowloris: FaultScenario = {
  name: 'slowloris: a byte at a time',
  async inject(target) {
    const count = scaled(200, 800);
    const all = await connections(target, count);
    const requests = all.map(({ at }) => requestBytes(at.protocol, requestVariables('GET', '/env')).bytes);
    let sent = 0;
    // Every 50 ms the next byte on every connection: 30 bytes by the header timeout, less than a request.
    const drip = setInterval(() => {
      all.forEach(({ connection }, i) => connection.write(requests[i].subarray(sent, sent + 1)));
      sent++;
    }, 50);
    try {
      const closed = await closedByDaemon(all, HEADER_TIMEOUT_MS + 5000);
      expect(sent).toBeLessThan(Math.min(...requests.map((r) => r.length)));
      for (const c of closed) {
        expect(c.afterMs).toBeGreaterThanOrEqual(HEADER_TIMEOUT_MS - 100);
        expect(statusIn(c.received)).toBe(408);
      }
    } finally {
      clearInterval(drip);
    }
    return count;
  },
};

const halfOpen: FaultScenario = {
  name: 'half-open: silent, half-closed, stalled readers',
  async inject(target) {
    const count = scaled(40, 200);
    // Silent: connected, never a byte. The header timeout closes them.
    const silent = await connections(target, count);
    // Half a request, then EOF: nothing more can come, the daemon closes.
    const halfRequest = await connections(target, count, true);
    for (const { connection, at, i } of halfRequest) {
      const { bytes, head } = requestBytes(at.protocol, requestVariables('GET', '/env'));
      connection.write(bytes.subarray(0, cutAt(i, head)));
      connection.endWrites();
    }
    // A whole request, then EOF (shutdown(SHUT_WR), as some SCGI clients do): it is answered in full.
    const wholeRequest = await connections(target, count, true);
    for (const { connection, at } of wholeRequest) {
      connection.write(requestBytes(at.protocol, requestVariables('GET', '/env')).bytes);
      connection.endWrites();
    }
    // Readers that stop reading a large response: the request timeout cuts it short.
    const total = 32 * 1024 * 1024;
    const stalled = await connections(target, Math.ceil(count / 4));
    for (const { connection, at } of stalled) {
      connection.stall();
      connection.write(requestBytes(at.protocol, requestVariables('GET', `/stream?bytes=${total}`)).bytes);
    }

    const silentClosed = await closedByDaemon(silent, HEADER_TIMEOUT_MS + 5000);
    for (const c of silentClosed) expect(c.afterMs).toBeGreaterThanOrEqual(HEADER_TIMEOUT_MS - 100);
    await closedByDaemon(halfRequest, HEADER_TIMEOUT_MS + 5000);
    for (const c of await closedByDaemon(wholeRequest, 5000)) {
      expect(statusIn(c.received)).toBe(200);
      expect(c.received.toString('latin1')).toContain('"REQUEST_URI":"/env"');
    }
    await sleep(REQUEST_TIMEOUT_MS + 500);
    for (const { connection } of stalled) connection.socket.resume();
    for (const c of await closedByDaemon(stalled, 10_000)) {
      expect(statusIn(c.received)).toBe(200);
      expect(c.received.length).toBeLessThan(total);
    }
    return silent.length + halfRequest.length + wholeRequest.length + stalled.length;
  },
};

/** Clients that send part of a request, or all of it and read part of the answer, then vanish. */
function vanishing(name: string, count: number, prepare: (at: Endpoint, i: number) => Buffer): FaultScenario {
  return {
    name,
    async inject(target) {
      const all = await connections(target, count);
      all.forEach(({ connection, at, i }) => connection.write(prepare(at, i)));
      // Long enough for the daemon to have read what was sent and started on it.
      await sleep(200);
      // Over TCP every other one resets, as a crashed client's kernel does.
      for (const { connection, at, i } of all) connection.vanish(at.tcp && i % 8 >= 4);
      return count;
    },
  };
}

const midParams = vanishing('vanish mid-headers/PARAMS', scaled(200, 1000), (at, i) => {
  const { bytes, head } = requestBytes(at.protocol, requestVariables('GET', '/env'));
  return bytes.subarray(0, cutAt(i, head));
});

const BODY = Buffer.alloc(60_000, 'b');
const midBody = vanishing('vanish mid-body', scaled(200, 1000), (at, i) => {
  const { bytes, head } = requestBytes(at.protocol, requestVariables('POST', '/hash'), BODY);
  return bytes.subarray(0, head + cutAt(i, BODY.length));
});

const midResponse: FaultScenario = {
  name: 'vanish mid-response',
  async inject(target) {
    const count = scaled(60, 300);
    const dripsBefore = probeLines(target, 'drip-finished', { aborted: true });
    const all = await connections(target, count);
    const routes = all.map(({ i }) => (i % 8 < 4 ? '/drip' : `/stream?bytes=${8 * 1024 * 1024}`));
    all.forEach(({ connection, at }, i) =>
      connection.write(requestBytes(at.protocol, requestVariables('GET', routes[i])).bytes),
    );
    // Each goes as soon as its response has begun: over TCP a third of them with a reset.
    await Promise.all(
      all.map(
        ({ connection, at, i }) =>
          new Promise<void>((resolve) => {
            connection.socket.once('data', () => {
              connection.vanish(at.tcp && i % 3 === 0);
              resolve();
            });
            connection.socket.once('close', () => resolve());
          }),
      ),
    );
    // The app's iterator is closed with its signal aborted, not left to run for its full 10 s.
    const drips = routes.filter((r) => r === '/drip').length;
    const aborted = (): number => probeLines(target, 'drip-finished', { aborted: true });
    await until(
      () => aborted() >= dripsBefore + drips,
      5000,
      () => `${aborted()} aborted drips`,
    );
    expect(aborted()).toBe(dripsBefore + drips);
    return count;
  },
};

const concurrent: FaultScenario = {
  name: 'concurrent connections',
  async inject(target) {
    const count = scaled(1200, 3000);
    const statuses = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const at = endpoint(target, i);
        const vars = requestVariables('GET', '/slow?ms=300');
        if (at.protocol === 'scgi') return (await scgiRequest(at.address, vars, undefined, 30_000)).status;
        const reply = await fcgiRequest(at.address, { params: vars, keepConn: false }, 30_000);
        return reply.response().status;
      }),
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    return count;
  },
};

const neverAnswering: FaultScenario = {
  name: 'apps that never answer',
  async inject(target) {
    const count = scaled(40, 200);
    const abortsBefore = probeLines(target, 'aborted');
    const all = await connections(target, count);
    // Half heed their abort signal, half ignore it: the 504 goes out either way.
    const routes = all.map(({ i }) => (i % 8 < 4 ? '/wait-abort' : '/never'));
    all.forEach(({ connection, at }, i) =>
      connection.write(requestBytes(at.protocol, requestVariables('GET', routes[i])).bytes),
    );
    for (const c of await closedByDaemon(all, REQUEST_TIMEOUT_MS + 5000)) {
      expect(c.afterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
      expect(statusIn(c.received)).toBe(504);
    }
    const heeding = routes.filter((r) => r === '/wait-abort').length;
    const aborts = (): number => probeLines(target, 'aborted');
    await until(
      () => aborts() >= abortsBefore + heeding,
      5000,
      () => `${aborts()} aborts seen`,
    );
    expect(aborts()).toBe(abortsBefore + heeding);
    return count;
  },
};

const throwing: FaultScenario = {
  name: 'apps that throw',
  async inject(target) {
    const count = scaled(40, 400);
    const routes = ['/error', '/error-in-iterable', '/reject', '/error-after-head'];
    const all = await connections(target, count);
    // Four routes over four listeners: shifted so that each route meets each listener.
    const routeOf = (i: number): string => routes[(i + Math.floor(i / 4)) % 4];
    all.forEach(({ connection, at, i }) =>
      connection.write(requestBytes(at.protocol, requestVariables('GET', routeOf(i))).bytes),
    );
    const closed = await closedByDaemon(all, 5000);
    closed.forEach((c, i) => {
      if (routeOf(i) !== '/error-after-head') {
        expect(statusIn(c.received)).toBe(500);
        expect(c.received.toString('latin1')).not.toContain('failed on purpose');
      } else {
        // The head had gone out: the response is cut short, never completed with made-up bytes.
        expect(statusIn(c.received)).toBe(200);
        expect(c.received.toString('latin1')).toContain('partial body');
        expect(c.received.length).toBeLessThan(1000);
      }
    });
    return count;
  },
};

/** SCGI variables whose netstring payload is exactly `bytes` long. */
function scgiVariablesOfSize(bytes: number): Variables {
  const vars: Variables = [...requestVariables('GET', '/env'), ['HTTP_X_PAD', '']];
  const payload = (v: Variables): number => {
    const head = serializeScgiHeaders(v, 0);
    return head.length - head.indexOf(':') - 2;
  };
  vars[vars.length - 1][1] = 'p'.repeat(bytes - payload(vars));
  return vars;
}

/** FastCGI PARAMS whose encoded pairs are exactly `bytes` long. */
function fastcgiParamsOfSize(bytes: number): Variables {
  const vars: Variables = [...fcgiParams('GET', '/env'), ['HTTP_X_PAD', 'p'.repeat(200)]];
  vars[vars.length - 1][1] = 'p'.repeat(200 + bytes - encodedPairsLength(vars));
  return vars;
}

async function statusOf(at: Endpoint, vars: Variables, body?: Buffer): Promise<number> {
  const all = await openConnections(() => at.address, 1);
  all[0].write(requestBytes(at.protocol, vars, body).bytes);
  const closed = await all[0].closedByDaemon(5000);
  const status = statusIn(closed.received);
  if (status === undefined) throw new Error(`no status from ${at.address}: ${closed.received.length} bytes`);
  // What /hash read: all of the body, not a prefix the limit let through.
  if (status === 200 && body !== undefined)
    expect(closed.received.toString('latin1')).toContain(`"bytes":${body.length}`);
  return status;
}

const limits: FaultScenario = {
  name: 'headers and bodies at and past the limits',
  async inject(target) {
    const rounds = scaled(4, 40);
    let faults = 0;
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < 4; i++) {
        const at = endpoint(target, i);
        const headers = at.protocol === 'scgi' ? scgiVariablesOfSize : fastcgiParamsOfSize;
        const limit = at.protocol === 'scgi' ? MAX_HEADER_BYTES : MAX_PARAMS_BYTES;
        expect(await statusOf(at, headers(limit))).toBe(200);
        expect(await statusOf(at, headers(limit + 1))).toBe(at.protocol === 'scgi' ? 413 : 431);
        const post = requestVariables('POST', '/hash');
        expect(await statusOf(at, post, Buffer.alloc(MAX_BODY_BYTES, 'x'))).toBe(200);
        expect(await statusOf(at, post, Buffer.alloc(MAX_BODY_BYTES + 1, 'x'))).toBe(413);
        faults += 2;
      }
      // Not SCGI at all: a 400 where the protocol allows an answer, a closed connection where it does not.
      const [http, noise] = await openConnections((i) => [target.scgi.unix, target.fastcgi.tcp][i], 2);
      http.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      noise.write(Buffer.from('\x02\x01\x00\x01\x00\x08\x00\x00garbage!', 'latin1'));
      expect(statusIn((await http.closedByDaemon(5000)).received)).toBe(400);
      await noise.closedByDaemon(5000);
      faults += 2;
    }
    return faults;
  },
};

export const SCENARIOS: FaultScenario[] = [
  slowloris,
  halfOpen,
  midParams,
  midBody,
  midResponse,
  concurrent,
  neverAnswering,
  throwing,
  limits,
];
