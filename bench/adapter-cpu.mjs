#!/usr/bin/env node
// Server CPU per request of one app, without nginx: the same app behind sluice over FastCGI (kept-alive
// connections, the params nginx's fastcgi_params send) and on its own node:http server (kept-alive
// HTTP/1.1, the head nginx's proxy_pass sends), driven by a minimal client over Unix sockets. The
// server's CPU time is read from /proc/PID/stat, so the figure holds on a busy machine too; so are its
// minor page faults, which set most of the upload's figure (bench/README.md).
// `--only scgi,null-scgi` measures SCGI instead: a connection per request (as nginx's scgi_pass),
// against sluice and the null SCGI responder, CONNECTIONS at a time; the app must answer the route
// (bench/apps/gateway.mjs does hello).
//
//   node bench/adapter-cpu.mjs [--app bench/apps/express-hello.mjs] [--route hello|item]
//                              [--requests 40000] [--connections 16] [--runs 3] [--only fastcgi,http]
//   node bench/adapter-cpu.mjs --app bench/apps/koa-route.mjs --route item
//   node bench/adapter-cpu.mjs --app bench/apps/gateway.mjs --only scgi,null-scgi
//
// --route hello is GET / (the *-hello apps); --route item POSTs the 1 KB JSON body of e2e's item route
// to /items/42 (the *-route apps); --route upload POSTs e2e's 10 MiB upload (with --app
// bench/apps/gateway.mjs, against node:http serving e2e's routes: `--requests 200 --warmup 16`).
// The first answer of each server is checked before any timing.
//
// Uses the compiled daemon (bin/sluice → dist/): run `npm run build` first.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { serializeScgiHeaders } from '../dist/scgi/serializer.js';
import { cpuSecondsOf, minorFaultsOf } from './lib/proc-stats.mjs';
import { HELLO, ITEM_HEADERS, ITEM_RESPONSE, ROUTES, requestBodyOf } from './lib/routes.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: v } = parseArgs({
  options: {
    app: { type: 'string', default: 'bench/apps/express-hello.mjs' },
    requests: { type: 'string', default: '40000' },
    warmup: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '16' },
    runs: { type: 'string', default: '3' },
    only: { type: 'string', default: 'fastcgi,http' },
    route: { type: 'string', default: 'hello' },
  },
});
if (!['hello', 'item', 'upload'].includes(v.route)) throw new Error('--route: hello, item or upload');
const ROUTE = ROUTES.find((r) => r.id === v.route);
const BODY = ROUTE.requestBytes > 0 ? requestBodyOf(ROUTE) : Buffer.alloc(0);
const CONTENT_TYPE = ROUTE.contentType ?? 'application/octet-stream';
const REQUESTS = Number(v.requests);
const GATEWAY_APP = path.basename(v.app) === 'gateway.mjs';
const WARMUP = Number(v.warmup);
const CONNECTIONS = Number(v.connections);
const RUNS = Number(v.runs);

// FastCGI: one request id per connection, FCGI_KEEP_CONN, what nginx sends with Debian's fastcgi_params
// for the route (and the request headers wrk sends, as HTTP_*).
function record(type, id, content) {
  const padding = -content.length & 7;
  const head = Buffer.from([
    1,
    type,
    id >> 8,
    id & 255,
    content.length >> 8,
    content.length & 255,
    padding,
    0,
  ]);
  return Buffer.concat([head, content, Buffer.alloc(padding)]);
}
/** A body as nginx sends it: STDIN records of up to 32 KiB. */
function stdinRecords(body) {
  const records = [];
  for (let at = 0; at < body.length; at += 32 * 1024)
    records.push(record(5, 1, body.subarray(at, at + 32 * 1024)));
  return records;
}
function pairs(list) {
  const parts = [];
  for (const [name, value] of list) {
    for (const text of [name, value]) if (Buffer.byteLength(text) > 127) throw new Error('long pair');
    parts.push(Buffer.from([Buffer.byteLength(name), Buffer.byteLength(value)]), Buffer.from(name + value));
  }
  return Buffer.concat(parts);
}
const HAS_BODY = BODY.length > 0;
const PARAMS = [
  ['QUERY_STRING', ''],
  ['REQUEST_METHOD', ROUTE.method],
  ['CONTENT_TYPE', HAS_BODY ? CONTENT_TYPE : ''],
  ['CONTENT_LENGTH', HAS_BODY ? String(BODY.length) : ''],
  ['SCRIPT_NAME', ROUTE.path],
  ['REQUEST_URI', ROUTE.path],
  ['DOCUMENT_URI', ROUTE.path],
  ['DOCUMENT_ROOT', '/usr/share/nginx/html'],
  ['SERVER_PROTOCOL', 'HTTP/1.1'],
  ['REQUEST_SCHEME', 'http'],
  ['GATEWAY_INTERFACE', 'CGI/1.1'],
  ['SERVER_SOFTWARE', 'nginx/1.24.0'],
  ['REMOTE_ADDR', '127.0.0.1'],
  ['REMOTE_PORT', '40000'],
  ['SERVER_ADDR', '127.0.0.1'],
  ['SERVER_PORT', '8080'],
  ['SERVER_NAME', 'localhost'],
  ['REDIRECT_STATUS', '200'],
  ['HTTP_HOST', 'localhost:8080'],
  ...(HAS_BODY
    ? [
        ['HTTP_CONTENT_LENGTH', String(BODY.length)],
        ['HTTP_CONTENT_TYPE', CONTENT_TYPE],
      ]
    : []),
];
const FCGI_REQUEST = Buffer.concat([
  record(1, 1, Buffer.from([0, 1, 1, 0, 0, 0, 0, 0])), // BEGIN_REQUEST, RESPONDER, KEEP_CONN
  record(4, 1, pairs(PARAMS)),
  record(4, 1, Buffer.alloc(0)),
  ...stdinRecords(BODY), // the item's 1 KB: one record
  record(5, 1, Buffer.alloc(0)),
]);
// SCGI: the same variables as a netstring (CONTENT_LENGTH and SCGI first), then the body.
const SCGI_REQUEST = Buffer.concat([serializeScgiHeaders(PARAMS, BODY.length), BODY]);
const SCGI_KINDS = new Set(['scgi', 'null-scgi']);

/** Counts FCGI_END_REQUEST records in a stream of records. */
function fastcgiCounter() {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    let data = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let ended = 0;
    let at = 0;
    while (data.length - at >= 8) {
      const size = 8 + data.readUInt16BE(at + 4) + data[at + 6];
      if (data.length - at < size) break;
      if (data[at + 1] === 3) ended++;
      at += size;
    }
    pending = data.subarray(at);
    return ended;
  };
}

// HTTP: what nginx's proxy_pass sends with proxy_http_version 1.1 and Connection "".
const HTTP_REQUEST = Buffer.concat([
  Buffer.from(
    `${ROUTE.method} ${ROUTE.path} HTTP/1.1\r\nHost: node_http\r\n` +
      (HAS_BODY ? `Content-Length: ${BODY.length}\r\nContent-Type: ${CONTENT_TYPE}\r\n` : '') +
      '\r\n',
  ),
  BODY,
]);
/** Counts complete responses framed by Content-Length (as the hello apps answer). */
function httpCounter() {
  let pending = '';
  return (chunk) => {
    pending += chunk.toString('latin1');
    let ended = 0;
    for (;;) {
      const end = pending.indexOf('\r\n\r\n');
      if (end === -1) break;
      const length = /\r\ncontent-length: *(\d+)/i.exec(pending.slice(0, end));
      if (!length) throw new Error('response without Content-Length: ' + pending.slice(0, end));
      const total = end + 4 + Number(length[1]);
      if (pending.length < total) break;
      pending = pending.slice(total);
      ended++;
    }
    return ended;
  };
}

/** Whether `socket` accepts a connection yet. */
function accepting(socket) {
  return new Promise((resolve) => {
    const conn = net.connect(socket);
    conn.once('connect', () => {
      conn.destroy();
      resolve(true);
    });
    conn.once('error', () => resolve(false));
  });
}

// One process (--workers 0): its own CPU is the server's, as for node:http. (sluice's default is a
// primary and one worker, which would leave the work out of the figure.)
function startServer(kind, socket) {
  const sluice = (protocol) => [
    'bin/sluice',
    'serve',
    v.app,
    `--${protocol}`,
    `unix:${socket}`,
    '--workers',
    '0',
    '--no-pretty',
    '--log-level',
    'warn',
  ];
  const argv = {
    fastcgi: () => sluice('fastcgi'),
    scgi: () => sluice('scgi'),
    'null-scgi': () => ['bench/peers/null-scgi.mjs', `unix:${socket}`],
    // The benchmark's gateway app is sluice's side of e2e's routes: node:http then serves its own.
    http: () => ['bench/peers/node-http.mjs', `unix:${socket}`, ...(GATEWAY_APP ? [] : [v.app])],
  }[kind]?.();
  if (argv === undefined) throw new Error(`--only: fastcgi, http, scgi or null-scgi, not ${kind}`);
  const child = spawn(
    process.execPath,
    [...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), ...argv],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    let waiting = true;
    const poll = async () => {
      while (waiting) {
        if (fs.existsSync(socket) && (await accepting(socket))) {
          waiting = false;
          return resolve(child);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    poll();
    child.once('exit', (code) => {
      waiting = false;
      reject(new Error(`${kind} exited ${code}: ${log}`));
    });
  });
}

/** One request on a connection of its own: { status, headers (lower-case names), body }. */
function probe(kind, socket) {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socket);
    const chunks = [];
    const timer = setTimeout(() => conn.destroy(new Error(`${kind}: no answer within 10 s`)), 10_000);
    conn.on('error', reject);
    conn.on('connect', () => conn.write(requestOf(kind)));
    const answer = (text) => {
      clearTimeout(timer);
      conn.destroy();
      const end = text.indexOf('\r\n\r\n');
      const [first, ...lines] = text.slice(0, end).split('\r\n');
      const headers = {};
      for (const line of kind === 'http' ? lines : [first, ...lines]) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const status =
        kind === 'http' ? Number(first.split(' ')[1]) : Number((headers.status ?? '200').slice(0, 3));
      resolve({ status, headers, body: text.slice(end + 4) });
    };
    // SCGI's response ends with the connection.
    conn.on('end', () => {
      if (SCGI_KINDS.has(kind)) answer(Buffer.concat(chunks).toString('latin1'));
    });
    conn.on('data', (chunk) => {
      chunks.push(chunk);
      if (SCGI_KINDS.has(kind)) return;
      const data = Buffer.concat(chunks);
      let text;
      if (kind === 'fastcgi') {
        if (fastcgiCounter()(data) === 0) return;
        const out = [];
        for (let at = 0; at + 8 <= data.length; at += 8 + data.readUInt16BE(at + 4) + data[at + 6])
          if (data[at + 1] === 6) out.push(data.subarray(at + 8, at + 8 + data.readUInt16BE(at + 4)));
        text = Buffer.concat(out).toString('latin1');
      } else {
        if (httpCounter()(data) === 0) return;
        text = data.toString('latin1');
      }
      answer(text);
    });
  });
}

/** Throws unless the server answers the route as e2e's check wants it. */
async function check(kind, socket) {
  const { status, headers, body } = await probe(kind, socket);
  const want = { hello: HELLO, item: ITEM_RESPONSE, upload: `${BODY.length}\n` }[v.route];
  const absent = v.route === 'item' ? ITEM_HEADERS.filter((name) => !headers[name]) : [];
  if (status !== 200 || body !== want || absent.length > 0) {
    throw new Error(
      `${kind}: ${ROUTE.method} ${ROUTE.path} answered ${status} ${JSON.stringify(body.slice(0, 200))}` +
        (absent.length > 0 ? ` without ${absent.join(', ')}` : '') +
        `; want 200 ${JSON.stringify(want)} (is --route right for ${v.app}?)`,
    );
  }
}

function requestOf(kind) {
  if (kind === 'fastcgi') return FCGI_REQUEST;
  return kind === 'http' ? HTTP_REQUEST : SCGI_REQUEST;
}

/** Sends `total` requests, a connection each, `CONNECTIONS` connections at a time (SCGI). */
function driveConnections(socket, total) {
  let started = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    const next = () => {
      if (started === total) return;
      started++;
      const conn = net.connect(socket);
      conn.on('error', reject);
      conn.on('connect', () => conn.write(SCGI_REQUEST));
      conn.on('data', () => undefined);
      conn.on('close', () => {
        done++;
        if (done === total) resolve();
        else next();
      });
    };
    for (let i = 0; i < CONNECTIONS; i++) next();
  });
}

/** Sends `total` requests over `CONNECTIONS` kept-alive connections, one at a time on each. */
function drive(kind, socket, total) {
  if (SCGI_KINDS.has(kind)) return driveConnections(socket, total);
  const request = requestOf(kind);
  let sent = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    for (let i = 0; i < CONNECTIONS; i++) {
      const conn = net.connect(socket);
      const count = kind === 'fastcgi' ? fastcgiCounter() : httpCounter();
      conn.on('error', reject);
      conn.on('connect', () => {
        sent++;
        conn.write(request);
      });
      conn.on('data', (chunk) => {
        for (let n = count(chunk); n > 0; n--) {
          done++;
          if (done === total) {
            resolve();
          }
          if (sent < total) {
            sent++;
            conn.write(request);
          } else conn.end();
        }
      });
    }
  });
}

const children = new Set();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adapter-cpu-'));
const results = {};
try {
  const kinds = v.only.split(',');
  const servers = {};
  for (const kind of kinds) {
    const socket = path.join(dir, `${kind}.sock`);
    servers[kind] = { socket, child: await startServer(kind, socket) };
    await check(kind, socket);
    await drive(kind, socket, WARMUP);
  }
  for (let run = 0; run < RUNS; run++) {
    for (const kind of kinds) {
      const { socket, child } = servers[kind];
      const cpu0 = cpuSecondsOf(child.pid);
      const faults0 = minorFaultsOf(child.pid);
      const t0 = process.hrtime.bigint();
      await drive(kind, socket, REQUESTS);
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = cpuSecondsOf(child.pid) - cpu0;
      const faults = minorFaultsOf(child.pid) - faults0;
      (results[kind] ??= []).push({
        usPerRequest: (cpu / REQUESTS) * 1e6,
        faultsPerRequest: faults / REQUESTS,
        rps: REQUESTS / wall,
      });
    }
  }
  for (const { child } of Object.values(servers)) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
} catch (err) {
  console.error(`bench/adapter-cpu.mjs: ${err.message}`);
  process.exitCode = 1;
} finally {
  // Left running only after a failure (each server is stopped and awaited above).
  const exits = [...children].map((child) => new Promise((resolve) => child.once('exit', resolve)));
  for (const child of children) child.kill('SIGTERM');
  await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, 3000))]);
  fs.rmSync(dir, { recursive: true, force: true });
}
if (process.exitCode) process.exit();
console.log(
  `${v.app}, ${ROUTE.method} ${ROUTE.path}: ${RUNS} run(s) of ${REQUESTS} requests over ` +
    `${CONNECTIONS} connections, after ${WARMUP} unmeasured`,
);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [kind, runs] of Object.entries(results)) {
  const us = runs.map((r) => r.usPerRequest);
  console.log(
    `${kind.padEnd(8)} server CPU/req median ${median(us).toFixed(1)} µs  (runs ${us.map((x) => x.toFixed(1)).join(', ')}); ` +
      `req/s median ${Math.round(median(runs.map((r) => r.rps)))}; ` +
      `minor page faults/req median ${median(runs.map((r) => r.faultsPerRequest)).toFixed(1)}`,
  );
}
for (const [kind, peer] of [
  ['fastcgi', 'http'],
  ['scgi', 'null-scgi'],
]) {
  if (!results[kind] || !results[peer]) continue;
  const cpu = (k) => median(results[k].map((r) => r.usPerRequest));
  console.log(`${kind} ÷ ${peer} CPU/req: ${(cpu(kind) / cpu(peer)).toFixed(2)}×`);
}
process.exit(0);
