// Request bodies of unknown length end to end: chunked uploads through Caddy 2.6 (CONTENT_LENGTH=-1,
// never a Transfer-Encoding) and through nginx with `fastcgi_request_buffering off` (the shipped
// /uploads/ location), over HTTP/1.1 and over HTTP/2 without TLS (where nginx sends no
// Transfer-Encoding either), into an Express, a Hono and a gateway app, checked by sha256 both ways.
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { decodePairs } from '../../src/fastcgi/pairs';
import { removeTempSocketDirs, startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { rawRecord, recordListener, until } from '../helpers/fastcgi';
import { FCGI_END_REQUEST, FCGI_STDOUT } from '../../src/fastcgi/constants';
import { pidAlive, requireBinary, startFrontEnd, type FrontEnd } from '../helpers/frontends';
import { request } from '../helpers/http';

// Evaluated at collection time: under CI=true a missing front end throws here and fails the file.
const withCaddy = requireBinary('caddy');
const withNginx = requireBinary('nginx');

const SIZES = [0, 1, 100 * 1024, 10 * 1024 * 1024];
const TIMEOUT_MS = 60_000;

// One random payload for every upload: each size is a prefix of it, hashed once.
const PAYLOAD = randomBytes(SIZES[SIZES.length - 1]!);
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const EMPTY_SHA256 = sha256(Buffer.alloc(0));

/** The first `size` bytes of the payload as a stream of 64 KiB chunks, and their sha256. */
function upload(size: number): { body: Readable; sha256: string } {
  const bytes = PAYLOAD.subarray(0, size);
  const chunks: Buffer[] = [];
  for (let at = 0; at < size; at += 64 * 1024) chunks.push(bytes.subarray(at, at + 64 * 1024));
  return { body: Readable.from(chunks), sha256: sha256(bytes) };
}

afterAll(() => removeTempSocketDirs());

interface Ask {
  method: string;
  path: string;
  /** Sent chunked (Transfer-Encoding: chunked over HTTP/1.1, DATA frames without a length over HTTP/2). */
  body?: Readable;
}

interface Reply {
  status: number;
  body: Buffer;
}

/** One way of reaching the daemon through a front end. */
interface Way {
  readonly name: string;
  /**
   * Whether this front end always sends a chunked upload with an unknown length: Caddy (-1) and nginx
   * for HTTP/2 (empty). nginx for HTTP/1.1 fills the length in when the whole body arrived before
   * it passed the request on, which small bodies on loopback do.
   */
  readonly alwaysUnknown: boolean;
  send(ask: Ask): Promise<Reply>;
}

function http1Way(name: string, alwaysUnknown: boolean, port: () => number): Way {
  return {
    name,
    alwaysUnknown,
    async send(ask) {
      const reply = await request({
        port: port(),
        method: ask.method,
        path: ask.path,
        // Explicit, so an empty body is sent as a lone last-chunk rather than Content-Length: 0.
        headers: ask.body
          ? { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }
          : {},
        body: ask.body,
        timeoutMs: TIMEOUT_MS / 2,
      });
      return { status: reply.status, body: reply.body };
    },
  };
}

/** HTTP/2 with prior knowledge over plain TCP (h2c), as `curl --http2-prior-knowledge` speaks it. */
function http2Way(name: string, port: () => number): Way {
  return {
    name,
    alwaysUnknown: true,
    send: (ask) =>
      new Promise<Reply>((resolve, reject) => {
        const session = http2.connect(`http://127.0.0.1:${port()}`);
        const timer = setTimeout(() => {
          session.destroy(new Error(`${ask.method} ${ask.path} timed out over HTTP/2`));
        }, TIMEOUT_MS / 2);
        const fail = (error: Error) => {
          clearTimeout(timer);
          session.destroy();
          reject(error);
        };
        session.once('error', fail);
        const headers: http2.OutgoingHttpHeaders = { ':method': ask.method, ':path': ask.path };
        if (ask.body) headers['content-type'] = 'application/octet-stream';
        const stream = session.request(headers, { endStream: ask.body === undefined });
        let status = 0;
        const chunks: Buffer[] = [];
        stream.once('response', (head) => (status = Number(head[':status'])));
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.once('end', () => {
          clearTimeout(timer);
          session.close();
          resolve({ status, body: Buffer.concat(chunks) });
        });
        stream.once('error', fail);
        ask.body?.once('error', fail);
        ask.body?.pipe(stream);
      }),
  };
}

/** What the fixtures answer from /uploads/hash (the gateway probe's /hash sends the first three). */
interface Seen {
  bytes: number;
  sha256: string;
  contentLength: string | null;
  method?: string;
  headerLength?: string | null;
  transferEncoding?: string | null;
  hasBody?: boolean;
}

function json(reply: Reply): Seen {
  if (reply.status !== 200) throw new Error(`status ${reply.status}: ${reply.body.toString().slice(0, 500)}`);
  return JSON.parse(reply.body.toString()) as Seen;
}

type Kind = 'node' | 'fetch' | 'gateway';

const APPS: Array<[string, string, Kind]> = [
  ['Express', 'test/fixtures/apps/unknown-length/express.mjs', 'node'],
  ['Hono', 'test/fixtures/apps/unknown-length/hono.mjs', 'fetch'],
  ['a gateway app', 'test/fixtures/apps/probe.mjs', 'gateway'],
];

/** What the app must have seen of a body whose length the front end left unknown. */
function expectUnknownLength(kind: Kind, seen: Seen): void {
  expect(seen.contentLength).toBeNull();
  if (kind === 'node') {
    // Node's parser read it chunked: type-is and Express's body parsers see a body.
    expect([seen.transferEncoding, seen.headerLength]).toEqual(['chunked', null]);
  } else if (kind === 'fetch') {
    expect([seen.hasBody, seen.headerLength, seen.transferEncoding]).toEqual([true, null, null]);
  }
}

/** What the app must have seen of a request without a body. */
function expectNoBody(kind: Kind, seen: Seen): void {
  expect([seen.bytes, seen.sha256]).toEqual([0, EMPTY_SHA256]);
  if (kind === 'node') expect(seen.transferEncoding).toBeNull();
  if (kind === 'fetch') expect(seen.hasBody).toBe(false);
}

describe.each(APPS)('%s', (_name, app, kind) => {
  let daemon: Daemon;
  let caddy: FrontEnd | undefined;
  let nginx: FrontEnd | undefined;

  beforeAll(async () => {
    daemon = await startDaemon(app, [
      '--fastcgi',
      'unix:' + tempSocketPath('fastcgi.sock'),
      // nginx's workers run as www-data when the tests run as root.
      '--socket-mode',
      '0666',
    ]);
    const upstream = { fastcgi: daemon.addresses.fastcgi![0] };
    [caddy, nginx] = await Promise.all([
      withCaddy ? startFrontEnd('caddy', 'deploy/caddy/Caddyfile', upstream) : undefined,
      withNginx
        ? startFrontEnd('nginx', 'deploy/nginx/sluice-fastcgi.conf', upstream, { http2: true })
        : undefined,
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([caddy?.stop(), nginx?.stop()]);
    if (daemon) expect(await daemon.stop()).toBe(0);
  });

  const ways: Way[] = [
    ...(withCaddy ? [http1Way('Caddy', true, () => caddy!.port)] : []),
    ...(withNginx ? [http1Way('nginx, HTTP/1.1', false, () => nginx!.port)] : []),
    ...(withNginx ? [http2Way('nginx, HTTP/2 without TLS', () => nginx!.http2Port!)] : []),
  ];

  describe.each(ways.map((way) => [way.name, way] as const))('behind %s', (_way, way) => {
    test.each(SIZES)(
      'a chunked upload of %d bytes reaches the app whole',
      async (size) => {
        const { body, sha256: sent } = upload(size);
        const seen = json(await way.send({ method: 'POST', path: '/uploads/hash', body }));
        expect([seen.bytes, seen.sha256]).toEqual([size, sent]);
        if (way.alwaysUnknown) expect(seen.contentLength).toBeNull();
        // nginx may know the length after all; then it is the whole length, and no framing is made up.
        if (seen.contentLength !== null) {
          expect(seen.contentLength).toBe(String(size));
          if (kind === 'node')
            expect([seen.headerLength, seen.transferEncoding]).toEqual([String(size), null]);
        } else {
          expectUnknownLength(kind, seen);
        }
      },
      TIMEOUT_MS,
    );

    if (kind !== 'gateway') {
      test.each(SIZES)(
        'a chunked upload of %d bytes read by the framework comes back whole',
        async (size) => {
          const { body, sha256: sent } = upload(size);
          const reply = await way.send({ method: 'POST', path: '/uploads/echo', body });
          expect(reply.status).toBe(200);
          expect([reply.body.length, sha256(reply.body)]).toEqual([size, sent]);
        },
        TIMEOUT_MS,
      );
    }

    test('a GET shows the app no body', async () => {
      const seen = json(await way.send({ method: 'GET', path: '/uploads/hash' }));
      expectNoBody(kind, seen);
      // nginx sends an empty CONTENT_LENGTH for a GET: an unknown length, yet no body without
      // Transfer-Encoding. Caddy 2.6 sends a CONTENT_LENGTH of 0.
      expect(seen.contentLength).toBe(way.name === 'Caddy' ? '0' : null);
      if (kind === 'node') expect(seen.headerLength).toBe(seen.contentLength);
    });
  });

  if (withCaddy) {
    // Caddy streams a GET's chunked body too, with CONTENT_LENGTH=-1 and no Transfer-Encoding: an
    // unknown length, as nginx's plain GET has. The adapters show no body (and the daemon drains it:
    // Caddy sends the whole body before it reads the answer); a gateway app reading sluice.input
    // gets all of it.
    test('behind Caddy, a GET carrying a chunked body is answered; only a gateway app sees the body', async () => {
      const { body, sha256: sent } = upload(100 * 1024);
      const seen = json(
        await http1Way('Caddy', true, () => caddy!.port).send({ method: 'GET', path: '/uploads/hash', body }),
      );
      expect(seen.contentLength).toBeNull();
      if (kind === 'gateway') expect([seen.bytes, seen.sha256]).toEqual([100 * 1024, sent]);
      else expectNoBody(kind, seen);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Caddy 2.6 as a FastCGI client, seen from a raw listener: what the docs say of it.

interface Recorded {
  requestId: number;
  keepConn: boolean;
  params: Map<string, string>;
  stdin: Buffer;
  /** The connection it arrived on, counted from 1. */
  connection: number;
  /** Every record type that connection carried up to the request's end. */
  types: Set<number>;
}

/** A FastCGI responder that records each request and answers 200 once its STDIN ended. */
function recorder(seen: Recorded[]): net.Server {
  let connections = 0;
  return net.createServer((socket) => {
    const connection = ++connections;
    const types = new Set<number>();
    let current: { id: number; keepConn: boolean; params: Buffer[]; stdin: Buffer[] } | undefined;
    socket.on(
      'data',
      recordListener(({ type, id, content }) => {
        types.add(type);
        if (type === 1) current = { id, keepConn: (content[2]! & 1) === 1, params: [], stdin: [] };
        else if (type === 4) current?.params.push(content);
        else if (type === 5 && content.length > 0) current?.stdin.push(content);
        else if (type === 5 && current) {
          const params = new Map<string, string>();
          decodePairs(Buffer.concat(current.params), (name, value) => params.set(name, value));
          seen.push({
            requestId: current.id,
            keepConn: current.keepConn,
            params,
            stdin: Buffer.concat(current.stdin),
            connection,
            types: new Set(types),
          });
          socket.end(answer(current.id));
          current = undefined;
        }
      }),
    );
    socket.on('error', () => socket.destroy());
  });
}

/** STDOUT with a small CGI response, the empty STDOUT, then END_REQUEST(REQUEST_COMPLETE). */
function answer(id: number): Buffer {
  return Buffer.concat([
    rawRecord(FCGI_STDOUT, id, Buffer.from('Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nrecorded')),
    rawRecord(FCGI_STDOUT, id),
    rawRecord(FCGI_END_REQUEST, id, Buffer.alloc(8)),
  ]);
}

(withCaddy ? describe : describe.skip)('Caddy 2.6 as a FastCGI client', () => {
  const seen: Recorded[] = [];
  let server: net.Server;
  let caddy: FrontEnd;

  beforeAll(async () => {
    const socketPath = tempSocketPath('recorder.sock');
    server = recorder(seen);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, resolve);
    });
    caddy = await startFrontEnd('caddy', 'deploy/caddy/Caddyfile', { fastcgi: `unix:${socketPath}` });
  }, 30_000);

  afterAll(async () => {
    await caddy?.stop();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  const find = (path: string): Recorded => {
    const found = seen.find((r) => r.params.get('REQUEST_URI') === path);
    if (found === undefined) throw new Error(`no request for ${path}\n${caddy.errorLog()}`);
    return found;
  };

  test('a chunked upload arrives with CONTENT_LENGTH=-1, no Transfer-Encoding, and the whole body', async () => {
    const { body, sha256: sent } = upload(70_000);
    const reply = await http1Way('Caddy', true, () => caddy.port).send({ method: 'POST', path: '/up', body });
    expect([reply.status, reply.body.toString()]).toEqual([200, 'recorded']);
    const recorded = find('/up');
    expect(recorded.params.get('CONTENT_LENGTH')).toBe('-1');
    expect(recorded.params.has('HTTP_TRANSFER_ENCODING')).toBe(false);
    expect(sha256(recorded.stdin)).toBe(sent);
  });

  test('a plain GET has CONTENT_LENGTH=0; without `split` SCRIPT_NAME is empty and PATH_INFO the path', async () => {
    expect(
      (await http1Way('Caddy', true, () => caddy.port).send({ method: 'GET', path: '/a/b?x=1' })).status,
    ).toBe(200);
    const recorded = find('/a/b?x=1');
    expect(recorded.params.get('CONTENT_LENGTH')).toBe('0');
    expect([recorded.params.get('SCRIPT_NAME'), recorded.params.get('PATH_INFO')]).toEqual(['', '/a/b']);
    expect(recorded.params.get('HTTP_HOST')).toBe(`127.0.0.1:${caddy.port}`);
    expect(recorded.params.get('HTTP_X_FORWARDED_FOR')).toBe('127.0.0.1');
  });

  test('one connection per request: request id 1, FCGI_KEEP_CONN unset, no FCGI_GET_VALUES', async () => {
    const way = http1Way('Caddy', true, () => caddy.port);
    await way.send({ method: 'GET', path: '/one' });
    await way.send({ method: 'GET', path: '/two' });
    const [one, two] = [find('/one'), find('/two')];
    expect([one.requestId, one.keepConn, two.requestId, two.keepConn]).toEqual([1, false, 1, false]);
    expect(two.connection).not.toBe(one.connection);
    // BEGIN_REQUEST, PARAMS, STDIN and nothing else.
    expect([...one.types].sort()).toEqual([1, 4, 5]);
  });

  test('HEAD and OPTIONS go without their body and with CONTENT_LENGTH=0; a DELETE gets a Content-Type', async () => {
    const way = http1Way('Caddy', true, () => caddy.port);
    expect((await way.send({ method: 'OPTIONS', path: '/options', body: upload(1000).body })).status).toBe(
      200,
    );
    await way.send({ method: 'HEAD', path: '/head', body: upload(1000).body });
    expect((await way.send({ method: 'DELETE', path: '/delete' })).status).toBe(200);
    const [options, head, del] = [find('/options'), find('/head'), find('/delete')];
    expect([options.params.get('CONTENT_LENGTH'), options.stdin.length]).toEqual(['0', 0]);
    expect([head.params.get('CONTENT_LENGTH'), head.stdin.length]).toEqual(['0', 0]);
    expect([del.params.get('CONTENT_LENGTH'), del.params.get('CONTENT_TYPE')]).toEqual([
      '0',
      'application/x-www-form-urlencoded',
    ]);
  });

  test('the harness: Caddy runs from the shipped file with its state in the prefix, and stops by PID', async () => {
    const other = await startFrontEnd('caddy', 'deploy/caddy/Caddyfile', { fastcgi: '127.0.0.1:9' });
    expect(pidAlive(other.pid)).toBe(true);
    // Caddy saves its running config where XDG_CONFIG_HOME says: inside the prefix, never in ~root.
    const autosave = `${other.prefix}/config/caddy/autosave.json`;
    await until(
      () => fs.existsSync(autosave),
      5000,
      () => `${autosave} never appeared`,
    );
    await other.stop();
    expect(pidAlive(other.pid)).toBe(false);
    if (process.env.SLUICE_KEEP_FRONTEND_PREFIX !== '1') expect(fs.existsSync(other.prefix)).toBe(false);
  });
});
