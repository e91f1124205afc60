// The daemon driven by the npm package fastcgi-client (0.2.0, pinned): a Node client that asks
// FCGI_GET_VALUES on a connection of its own and, told FCGI_MPXS_CONNS=1, multiplexes every
// request in flight over one connection. The package is old and fragile; its quirks are worked
// around here, in the test, never in sluice:
//
// - `client.request` exists only after the client's 'ready' event, which follows the GET_VALUES
//   probe: a connection opened, GET_VALUES sent, the connection closed once the answer came.
// - `maxReqs` is read from the wrong option (`maxConns`) in its constructor: leave both unset, so
//   the limit is whatever the server announces as FCGI_MAX_REQS (sluice: 256).
// - Beyond that limit a request fails at once, it is not queued; and request ids count up from 1
//   on each new connection.
// - Its record reader takes any record header at the end of a socket read as complete: one split
//   across two reads throws inside its 'data' handler. The answers here are kept small (well under
//   one 64 KiB read all together), so no header straddles reads.
// - A string or a zero-length Buffer written to `stdin` is framed as is: an empty chunk would be an
//   empty STDIN record, the end of the body. Bodies go as non-empty Buffers, and `stdin.end()` sends
//   the end (a GET too must end its stdin, or the server waits for its body).
// - Once no request is in flight it closes the shared connection itself; the next request waits
//   for that close and opens a new one.
// - Its types list a fixed set of CGI variables (no PATH_INFO): the params are cast.
import createClient from 'fastcgi-client';
import { startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { until } from '../helpers/fastcgi';
import { parseCgiResponse, type CgiResponse } from '../helpers/scgi';
import { pattern, sha256 } from '../helpers/bytes';

type Client = ReturnType<typeof createClient>;
type Params = Parameters<Client['request']>[0];

let daemon: Daemon;
let socketPath: string;

beforeAll(async () => {
  socketPath = tempSocketPath();
  daemon = await startDaemon('test/fixtures/apps/probe.mjs', [
    '--fastcgi',
    `unix:${socketPath}`,
    '--workers',
    '0',
    '--log-level',
    'debug',
    '--status-path',
    '/sluice-status',
  ]);
});

afterAll(async () => {
  await daemon?.stop();
});

/** A client that has had its GET_VALUES answer (rejects on the client's 'error' before that). */
function readyClient(): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = createClient({ sockFile: socketPath });
    client.once('error', reject);
    client.once('ready', () => {
      client.off('error', reject);
      resolve(client);
    });
  });
}

interface Exchange {
  response: CgiResponse;
  exitStatus: Error | number;
}

/** One request through the client: its params, then `body` (if any) on stdin, then the end. */
function send(client: Client, params: Record<string, string>, body?: Buffer): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    client.request(params as Params, (error, request) => {
      if (error) return reject(error);
      const chunks: Buffer[] = [];
      request.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.stdout.on('error', reject);
      // getExitStatus() is set before stdout ends.
      request.stdout.on('end', () => {
        try {
          resolve({ response: parseCgiResponse(Buffer.concat(chunks)), exitStatus: request.getExitStatus() });
        } catch (parseError) {
          reject(parseError as Error);
        }
      });
      // Never an empty chunk: it would be framed as the empty STDIN record that ends the body.
      if (body !== undefined && body.length > 0) request.stdin.write(body);
      request.stdin.end();
    });
  });
}

function cgiParams(method: string, path: string, contentLength?: number): Record<string, string> {
  const params: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_NAME: 'localhost',
    SERVER_PORT: '80',
    REMOTE_ADDR: '127.0.0.1',
    REQUEST_METHOD: method,
    REQUEST_URI: path,
    SCRIPT_NAME: '',
    PATH_INFO: path,
    QUERY_STRING: '',
  };
  if (contentLength !== undefined) {
    params.CONTENT_LENGTH = String(contentLength);
    params.CONTENT_TYPE = 'application/octet-stream';
  }
  return params;
}

/** "connection opened" lines in the daemon's debug log, by conn id. */
function connectionsOpened(): number[] {
  return daemon
    .logLines()
    .filter((line) => line.msg === 'connection opened')
    .map((line) => line.conn as number);
}

test('50 concurrent GETs and POSTs share one multiplexed connection besides the GET_VALUES probe', async () => {
  const client = await readyClient();
  // The probe's own connection, which asked GET_VALUES and was told FCGI_MPXS_CONNS=1.
  const probe = daemon.logLines().find((line) => line.msg === 'GET_VALUES');
  expect(probe).toBeDefined();
  expect(connectionsOpened()).toEqual([probe!.conn]);

  // Bodies from nothing to several records (the client frames at most 65535 bytes a record).
  const sizes = [0, 1, 7, 8, 1000, 8191, 65535, 65536, 100_000, 300_000];
  const sends = Array.from({ length: 50 }, (_, i) => {
    if (i % 2 === 0) {
      return send(client, cgiParams('GET', '/env')).then(({ response, exitStatus }) => {
        expect(exitStatus).toBe(0);
        expect(response.status).toBe(200);
        const env = JSON.parse(response.body.toString('utf8')) as Record<string, string>;
        expect(env.REQUEST_METHOD).toBe('GET');
        expect(env.PATH_INFO).toBe('/env');
      });
    }
    // Each POST's bytes differ (offset by i), so answers crossed between requests would show.
    const size = sizes[(i >> 1) % sizes.length];
    const body = Buffer.from(pattern(size + i).subarray(i));
    return send(client, cgiParams('POST', '/hash', size), body).then(({ response, exitStatus }) => {
      expect(exitStatus).toBe(0);
      expect(response.status).toBe(200);
      const answer = JSON.parse(response.body.toString('utf8')) as { bytes: number; sha256: string };
      expect(answer).toMatchObject({ bytes: size, sha256: sha256(body) });
    });
  });
  await Promise.all(sends);

  // One connection more than the probe's, carrying all 50 requests at once: ids 1..50 on it.
  // Every request went over one connection: the daemon saw one more than the probe's.
  const opened = connectionsOpened();
  expect(opened).toHaveLength(2);
  expect(opened).toContain(probe!.conn);

  // The status path agrees (asked on a third connection: the client closed the shared one once
  // idle): three connections accepted, the 50 requests answered, many of them in flight at once.
  const { response } = await send(client, cgiParams('GET', '/sluice-status'));
  expect(response.status).toBe(200);
  const status = JSON.parse(response.body.toString('utf8')) as {
    totals: { accepted: number; maxActive: number; requests: number };
  };
  expect(status.totals.accepted).toBe(3);
  expect(status.totals.requests).toBeGreaterThanOrEqual(50);
  expect(status.totals.maxActive).toBeGreaterThan(1);
  await until(
    () => connectionsOpened().length === 3,
    5000,
    () => `a third "connection opened" line; logs:\n${daemon.logs()}`,
  );
});
