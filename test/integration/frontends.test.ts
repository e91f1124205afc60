// Self-test of the front-end harness, without the sluice daemon: tiny inline SCGI and FastCGI
// responders stand in for the app, and every shipped deploy config is started against them over a
// Unix socket and over TCP.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { removeTempSocketDirs, startDaemon, tempSocketPath } from '../helpers/daemon';
import {
  type FrontEndName,
  type Upstream,
  pidAlive,
  requireBinary,
  startFrontEnd,
  stopAllFrontEnds,
} from '../helpers/frontends';
import { recordListener } from '../helpers/fastcgi';
import { request } from '../helpers/http';

const RESPONSE = 'Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nhello';

type Params = Record<string, string>;

/** SCGI: `<len>:<name NUL value NUL ...>,<body>`; reads the body, answers, closes. */
function scgiResponder(seen: Params[]): net.Server {
  return net.createServer((socket) => {
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const colon = buffer.indexOf(0x3a);
      if (colon < 0) return;
      const length = Number(buffer.subarray(0, colon).toString('latin1'));
      const end = colon + 1 + length; // index of the ',' after the headers
      if (buffer.length <= end) return;
      const fields = buffer
        .subarray(colon + 1, end)
        .toString('latin1')
        .split('\0');
      const params: Params = {};
      for (let i = 0; i + 1 < fields.length; i += 2) params[fields[i]!] = fields[i + 1]!;
      if (buffer.length < end + 1 + Number(params.CONTENT_LENGTH ?? 0)) return;
      socket.removeAllListeners('data');
      seen.push(params);
      socket.end(RESPONSE);
    });
    socket.on('error', () => socket.destroy());
  });
}

function fcgiRecord(type: number, id: number, content: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt8(1, 0);
  header.writeUInt8(type, 1);
  header.writeUInt16BE(id, 2);
  header.writeUInt16BE(content.length, 4);
  return Buffer.concat([header, content]);
}

function fcgiPairs(buffer: Buffer): Params {
  const params: Params = {};
  let i = 0;
  const length = () => {
    if (buffer[i]! < 0x80) return buffer[i++]!;
    const value = buffer.readUInt32BE(i) & 0x7fffffff;
    i += 4;
    return value;
  };
  while (i < buffer.length) {
    const nameLength = length();
    const valueLength = length();
    const name = buffer.toString('latin1', i, i + nameLength);
    params[name] = buffer.toString('latin1', i + nameLength, i + nameLength + valueLength);
    i += nameLength + valueLength;
  }
  return params;
}

/** FastCGI: answers each request after its empty STDIN, echoing its request id; multiplex-safe. */
function fastcgiResponder(seen: Params[]): net.Server {
  return net.createServer((socket) => {
    const requests = new Map<number, { keepConn: boolean; params: Buffer[] }>();
    socket.on(
      'data',
      recordListener(({ type, id, content }) => {
        if (type === 9) {
          // GET_VALUES (HAProxy's `option get-values`): multiplexing allowed, 64 per connection.
          const pair = (n: string, v: string) => Buffer.from([n.length, v.length, ...Buffer.from(n + v)]);
          const values = Buffer.concat([pair('FCGI_MPXS_CONNS', '1'), pair('FCGI_MAX_REQS', '64')]);
          socket.write(fcgiRecord(10, 0, values));
        } else if (type === 1) {
          requests.set(id, { keepConn: (content[2]! & 1) === 1, params: [] });
        } else if (type === 4 && content.length > 0) {
          requests.get(id)?.params.push(content);
        } else if ((type === 5 && content.length === 0) || type === 2) {
          const request = requests.get(id);
          if (!request) return;
          requests.delete(id);
          if (type === 5) seen.push(fcgiPairs(Buffer.concat(request.params)));
          const out = type === 5 ? [fcgiRecord(6, id, Buffer.from(RESPONSE)), fcgiRecord(6, id)] : [];
          socket.write(Buffer.concat([...out, fcgiRecord(3, id, Buffer.alloc(8))]));
          if (!request.keepConn) socket.end();
        }
      }),
    );
    socket.on('error', () => socket.destroy());
  });
}

interface Responders {
  upstreams: { unix: Upstream; tcp: Upstream };
  scgiSeen: Params[];
  fastcgiSeen: Params[];
  close(): Promise<void>;
}

/** Tracks connections so close() can end kept-alive ones instead of waiting for them. */
function tracked(server: net.Server): net.Server {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const close = server.close.bind(server);
  server.close = (callback?: (err?: Error) => void) => {
    for (const socket of sockets) socket.destroy();
    return close(callback);
  };
  return server;
}

function listen(server: net.Server, where: string | number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (typeof where === 'string') {
      server.listen(where, () => {
        fs.chmodSync(where, 0o666); // front-end workers run as www-data/haproxy, not root
        resolve(`unix:${where}`);
      });
    } else {
      server.listen(where, '127.0.0.1', () =>
        resolve(`127.0.0.1:${(server.address() as net.AddressInfo).port}`),
      );
    }
  });
}

async function startResponders(): Promise<Responders> {
  const scgiSeen: Params[] = [];
  const fastcgiSeen: Params[] = [];
  const servers = [tracked(scgiResponder(scgiSeen)), tracked(fastcgiResponder(fastcgiSeen))];
  const tcpServers = [tracked(scgiResponder(scgiSeen)), tracked(fastcgiResponder(fastcgiSeen))];
  const [scgiUnix, fastcgiUnix, scgiTcp, fastcgiTcp] = await Promise.all([
    listen(servers[0]!, tempSocketPath('scgi.sock')),
    listen(servers[1]!, tempSocketPath('fastcgi.sock')),
    listen(tcpServers[0]!, 0),
    listen(tcpServers[1]!, 0),
  ]);
  return {
    upstreams: {
      unix: { scgi: scgiUnix, fastcgi: fastcgiUnix },
      tcp: { scgi: scgiTcp, fastcgi: fastcgiTcp },
    },
    scgiSeen,
    fastcgiSeen,
    close: async () => {
      await Promise.all(
        [...servers, ...tcpServers].map(
          (server) => new Promise<void>((resolve) => server.close(() => resolve())),
        ),
      );
    },
  };
}

// Started lazily by the first test (concurrent tests may begin before beforeAll hooks settle).
let responders: Promise<Responders> | undefined;
const getResponders = () => (responders ??= startResponders());

afterAll(async () => {
  try {
    await stopAllFrontEnds();
    if (responders) await (await responders).close();
  } finally {
    removeTempSocketDirs();
  }
});

const CASES: Array<[FrontEndName, string]> = [
  ['nginx', 'deploy/nginx/sluice-scgi.conf'],
  ['nginx', 'deploy/nginx/sluice-fastcgi.conf'],
  ['apache', 'deploy/apache/sluice-scgi.conf'],
  ['apache', 'deploy/apache/sluice-fastcgi.conf'],
  ['apache', 'deploy/apache/sluice-bridge-cgi.conf'],
  ['lighttpd', 'deploy/lighttpd/sluice-scgi.conf'],
  ['lighttpd', 'deploy/lighttpd/sluice-fastcgi.conf'],
  ['haproxy', 'deploy/haproxy/sluice-fastcgi.cfg'],
];

// Evaluated at collection time: under CI=true a missing binary throws here and fails the file.
const installed = new Map<FrontEndName, boolean>(
  [...new Set(CASES.map(([name]) => name))].map((name) => [name, requireBinary(name)]),
);

describe.each(CASES)('%s with %s', (name, deployFile) => {
  const run = installed.get(name) ? it.concurrent : it.concurrent.skip;
  // The CGI bridge config forwards over FastCGI as shipped.
  const protocol = deployFile.includes('fastcgi') || deployFile.includes('bridge') ? 'fastcgi' : 'scgi';

  run.each(['unix', 'tcp'] as const)(
    'answers through the front end over %s and stops by PID',
    async (transport) => {
      const { upstreams, scgiSeen, fastcgiSeen } = await getResponders();
      const frontEnd = await startFrontEnd(name, deployFile, upstreams[transport]);
      try {
        expect(pidAlive(frontEnd.pid)).toBe(true);
        const marker = `/${name}/${protocol}/${transport}`;
        const res = await request({
          port: frontEnd.port,
          path: `${marker}?q=1`,
          headers: { authorization: 'Bearer t0ken', proxy: 'http://evil.test:8080' },
          timeoutMs: 5000,
        });
        if (res.status !== 200) throw new Error(`status ${res.status}: ${res.body}\n${frontEnd.errorLog()}`);
        expect(res.body.toString()).toBe('hello');
        const seen = (protocol === 'scgi' ? scgiSeen : fastcgiSeen).find(
          (params) => params.REQUEST_URI === `${marker}?q=1`,
        );
        expect(seen).toBeDefined();
        expect(seen!.REQUEST_METHOD).toBe('GET');
        if (protocol === 'scgi') expect(seen!.SCGI).toBe('1');
        // The shipped configs pass Authorization on (Apache: CGIPassAuth; HAProxy: pass-header).
        expect(seen!.HTTP_AUTHORIZATION).toBe('Bearer t0ken');
        // httpoxy: no shipped config passes a client's Proxy header on as HTTP_PROXY (nginx's stock
        // params would, hence `fastcgi_param HTTP_PROXY "";` in the shipped nginx configs).
        expect(seen!.HTTP_PROXY).toBeUndefined();
      } finally {
        await frontEnd.stop();
      }
      expect(pidAlive(frontEnd.pid)).toBe(false);
      if (process.env.SLUICE_KEEP_FRONTEND_PREFIX !== '1') expect(fs.existsSync(frontEnd.prefix)).toBe(false);
    },
    10_000,
  );
});

describe('harness', () => {
  const savedCI = process.env.CI;
  afterEach(() => {
    if (savedCI === undefined) delete process.env.CI;
    else process.env.CI = savedCI;
  });

  it('fails (CI=true) or skips with a warning (otherwise) when a binary is missing', () => {
    process.env.CI = 'true';
    expect(() => requireBinary('sluice-no-such-binary')).toThrow(/not found.*CI=true/);
    delete process.env.CI;
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      expect(requireBinary('sluice-no-such-binary')).toBe(false);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('sluice-no-such-binary'));
    } finally {
      warn.mockRestore();
    }
  });

  it('makes short socket paths in directories front-end workers can traverse', () => {
    const socketPath = tempSocketPath('x.sock');
    expect(Buffer.byteLength(socketPath)).toBeLessThanOrEqual(100);
    expect(fs.statSync(path.dirname(socketPath)).mode & 0o777).toBe(0o755);
  });

  it('startDaemon collects listening addresses, waits for ready and stops with SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-fake-cli-'));
    try {
      // Stands in for bin/sluice: the daemon's stderr contract, nothing else.
      const fake = path.join(dir, 'fake-sluice.js');
      fs.writeFileSync(
        fake,
        `const net = require('node:net');
        const log = (o) => process.stderr.write(JSON.stringify({ level: 30, ...o }) + '\\n');
        if (process.argv[2] !== 'serve' || process.argv[3] !== 'app.mjs') { log({ msg: 'bad argv' }); process.exit(2); }
        if (process.argv.includes('--crash')) { process.stderr.write('boom\\n'); process.exit(3); }
        const server = net.createServer().listen(0, '127.0.0.1', () => {
          log({ msg: 'listening', protocol: 'fastcgi', address: '127.0.0.1:' + server.address().port });
          log({ msg: 'listening', protocol: 'scgi', address: 'unix:/tmp/fake.sock' });
          log({ msg: 'ready' });
        });
        process.on('SIGTERM', () => server.close(() => process.exit(0)));`,
      );
      const daemon = await startDaemon('app.mjs', ['--fastcgi', '127.0.0.1:0'], { bin: fake });
      expect(daemon.addresses.fastcgi).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+$/)]);
      expect(daemon.addresses.scgi).toEqual(['unix:/tmp/fake.sock']);
      expect(daemon.addresses.http).toBeUndefined();
      expect(await daemon.stop()).toBe(0);
      expect(pidAlive(daemon.pid)).toBe(false);

      await expect(startDaemon('app.mjs', ['--crash'], { bin: fake })).rejects.toThrow(/code 3.*\n.*boom/s);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  (installed.get('nginx') ? it : it.skip)(
    'rejects a deploy file whose canonical values drifted',
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-drift-'));
      try {
        const shipped = fs.readFileSync('deploy/nginx/sluice-scgi.conf', 'utf8');
        const moved = path.join(dir, 'moved-scgi.conf');
        fs.writeFileSync(moved, shipped.replace(/^(\s*)listen 80;/m, '$1listen 8080;'));
        await expect(startFrontEnd('nginx', moved, { scgi: '127.0.0.1:1' })).rejects.toThrow(
          /no longer contains "listen 80;" on an active line/,
        );
        const extra = path.join(dir, 'extra-scgi.conf');
        fs.writeFileSync(
          extra,
          shipped.replace('server_name _;', 'server_name _;\n    root /run/sluice/www;'),
        );
        await expect(startFrontEnd('nginx', extra, { scgi: '127.0.0.1:1' })).rejects.toThrow(/survived/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
