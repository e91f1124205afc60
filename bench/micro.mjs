#!/usr/bin/env node
// Micro-benchmarks of sluice's hot paths, in process: FastCGI record parsing, params decoding, SCGI
// header parsing, response head serialization, FastCGI record writing and the FastCGI path from bytes
// to environ, timed without sockets; and the heap objects one FastCGI hello request allocates on the
// real server path (serveFastCgi on a Unix socket), counted. See bench/README.md, "Micro-benchmarks".
//
//   npm run bench:micro                    # 300 ms warm-up + 7 rounds of ~150 ms per case (~35 s)
//   npm run bench:micro -- --quick         # a smoke test of the harness (~5 s), not a measurement
//   npm run bench:micro -- --only stdin-32k,params-decode --rounds 11
//   npm run bench:micro -- --only alloc-hello --baseline ../old   # and on an older built checkout
//
// Imports the compiled modules from dist/ (run `npm run build` first; the paths are in MODULES
// below). The timed cases are synchronous and single-threaded; the whole run is bounded by --budget
// (default 90 s): cases that would start after it are skipped and reported as such. Results: a
// markdown table on stdout, plus JSON and markdown in bench/results/ (gitignored).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { Session } from 'node:inspector';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { buildOf, machineAndBuild, newestMtime } from './build-info.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH_DIR, '..');
const RESULTS_DIR = path.join(BENCH_DIR, 'results');
const DIST = path.join(ROOT, 'dist');

// ---------------------------------------------------------------------------------------------
// Everything this file takes from sluice's build, as 'module under dist/#export' ('#*': the whole
// module). When src/ moves, re-point the entries here; BASELINE_MODULES overrides entries for a
// --baseline build whose dist/ still has the old layout. The one other tie to the internals is
// serveContext() below.

const MODULES = {
  RecordParser: 'fastcgi/parser.js#RecordParser',
  encodePairs: 'fastcgi/pairs.js#encodePairs',
  decodePairList: 'fastcgi/pairs.js#decodePairList',
  writer: 'fastcgi/writer.js#*',
  FCGI_KEEP_CONN: 'fastcgi/constants.js#FCGI_KEEP_CONN',
  FCGI_RESPONDER: 'fastcgi/constants.js#FCGI_RESPONDER',
  FCGI_STDIN: 'fastcgi/constants.js#FCGI_STDIN',
  ScgiParser: 'scgi/parser.js#ScgiParser',
  validateHead: 'gateway/response-head.js#validateHead',
  serializeHead: 'gateway/response-head.js#serializeHead',
  buildCgiVariables: 'gateway/environ.js#buildCgiVariables',
  createEnviron: 'gateway/environ.js#createEnviron',
  serveFastCgi: 'fastcgi/connection.js#serveFastCgi', // a ConnectionHandler
  Meter: 'runtime/meter.js#Meter',
  DEFAULT_LIMITS: 'runtime/limits.js#DEFAULT_LIMITS',
  SpoolBudget: 'runtime/spool-budget.js#SpoolBudget',
};
// The layout before src/ was split into layers (4ccf772 and older); null: the build has none.
const BASELINE_MODULES = {
  Meter: 'gateway/meter.js#Meter',
  DEFAULT_LIMITS: 'limits.js#DEFAULT_LIMITS',
  SpoolBudget: null,
};

/**
 * The ServeContext the daemon gives each connection (src/runtime/context.ts, built in
 * src/process/serving.ts): the app, a logger, the default limits, no mount point, one process, a
 * meter without access or slow log, the spool budget, no paths exempt from admission.
 */
function serveContext(app, log) {
  return {
    app,
    log,
    limits: DEFAULT_LIMITS,
    environ: { mount: '' },
    multiprocess: false,
    load: new Meter({ log, accessLog: null, slowMs: Infinity }),
    spool: SpoolBudget === undefined ? undefined : new SpoolBudget(DEFAULT_LIMITS.spoolMaxBytes),
    admissionExempt: new Set(),
  };
}

/** The build a process measures: this checkout's dist/, or --baseline DIR's. */
function buildDir(options) {
  return options.baseline ?? ROOT;
}

/** Which table entries a build uses, and the missing modules of its dist/ (none when it is built). */
function modulesOf(options) {
  const table = options.baseline === undefined ? MODULES : { ...MODULES, ...BASELINE_MODULES };
  const dist = path.join(buildDir(options), 'dist');
  const specs = Object.values(table).filter((spec) => spec !== null);
  const missing = [...new Set(specs.map((spec) => spec.split('#')[0]))].filter(
    (file) => !fs.existsSync(path.join(dist, file)),
  );
  return { table, dist, missing };
}

let RecordParser, encodePairs, decodePairList, writer, FCGI_KEEP_CONN, FCGI_RESPONDER, FCGI_STDIN;
let ScgiParser, validateHead, serializeHead, buildCgiVariables, createEnviron;
let serveFastCgi, Meter, DEFAULT_LIMITS, SpoolBudget;

const require = createRequire(import.meta.url);

/** Loads the build's modules into the names above (in the process that runs a case). */
function bindSluice(options) {
  const { table, dist, missing } = modulesOf(options);
  if (missing.length > 0) throw new Error(`${dist}: ${missing.join(', ')} missing (not built?)`);
  const get = (spec) => {
    if (spec === null) return undefined;
    const [file, name] = spec.split('#');
    const module = require(path.join(dist, file));
    if (name === '*') return module;
    if (!(name in module)) throw new Error(`${path.join(dist, file)} exports no ${name}`);
    return module[name];
  };
  const s = Object.fromEntries(Object.entries(table).map(([key, spec]) => [key, get(spec)]));
  ({ RecordParser, encodePairs, decodePairList, writer, FCGI_KEEP_CONN, FCGI_RESPONDER, FCGI_STDIN } = s);
  ({ ScgiParser, validateHead, serializeHead, buildCgiVariables, createEnviron } = s);
  ({ serveFastCgi, Meter, DEFAULT_LIMITS, SpoolBudget } = s);
}

const KiB = 1024;
const MiB = 1024 * KiB;

// ---------------------------------------------------------------------------------------------
// Options

const USAGE = `usage: node bench/micro.mjs [options]      (npm run bench:micro -- [options])

  --rounds N        measured rounds per case (default 7); median, min and max are reported
  --round-ms MS     target length of one round (default 150)
  --warmup-ms MS    unreported warm-up per case, also used to size the rounds (default 300)
  --budget S        skip the remaining cases once the run has taken S seconds (default 90, 180 with
                    --baseline)
  --quick           smoke form: 3 rounds of 20 ms, 50 ms warm-up (explicit flags still win)
  --only LIST       comma-separated case ids (default: all; see the table for the ids)
  --list            print the case ids and exit
  --baseline DIR    also run each case on DIR's build (a checkout of another sluice with its dist/
                    built), in a process of its own after this build's, and compare the medians
  --child ID        (internal) run one case in this process and print its JSON
  -h, --help        this text`;

function parseOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        rounds: { type: 'string' },
        'round-ms': { type: 'string' },
        'warmup-ms': { type: 'string' },
        budget: { type: 'string' },
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        list: { type: 'boolean', default: false },
        child: { type: 'string' },
        baseline: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    usageError(err.message);
  }
  const v = parsed.values;
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = v.quick;
  const num = (name, fallback, min, max) => {
    const raw = v[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max) usageError(`--${name} must be a number ${min}–${max}`);
    return n;
  };
  return {
    quick,
    rounds: Math.round(num('rounds', quick ? 3 : 7, 1, 101)),
    roundMs: num('round-ms', quick ? 20 : 150, 1, 5000),
    warmupMs: num('warmup-ms', quick ? 50 : 300, 0, 10000),
    budgetS: num('budget', v.baseline === undefined ? 90 : 180, 1, 3600),
    only: v.only ? v.only.split(',').map((s) => s.trim()) : null,
    list: v.list,
    child: v.child,
    baseline: v.baseline === undefined ? undefined : path.resolve(v.baseline),
  };
}

function usageError(message) {
  console.error(`bench/micro: ${message}\n\n${USAGE}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Request data: what nginx sends for a GET / with Debian's fastcgi_params / scgi_params

/** Debian's /etc/nginx/fastcgi_params as nginx expands it for `GET /?page=2` (HTTPS is if_not_empty). */
function fastcgiParams(remotePort, uri = '/?page=2') {
  const q = uri.indexOf('?');
  return [
    ['QUERY_STRING', q === -1 ? '' : uri.slice(q + 1)],
    ['REQUEST_METHOD', 'GET'],
    ['CONTENT_TYPE', ''],
    ['CONTENT_LENGTH', ''],
    ['SCRIPT_NAME', q === -1 ? uri : uri.slice(0, q)],
    ['REQUEST_URI', uri],
    ['DOCUMENT_URI', q === -1 ? uri : uri.slice(0, q)],
    ['DOCUMENT_ROOT', '/usr/share/nginx/html'],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['REQUEST_SCHEME', 'http'],
    ['GATEWAY_INTERFACE', 'CGI/1.1'],
    ['SERVER_SOFTWARE', 'nginx/1.22.1'],
    ['REMOTE_ADDR', '203.0.113.57'],
    ['REMOTE_PORT', String(remotePort)],
    ['REMOTE_USER', ''],
    ['SERVER_ADDR', '192.0.2.10'],
    ['SERVER_PORT', '80'],
    ['SERVER_NAME', 'example.com'],
    ['REDIRECT_STATUS', '200'],
    ['HTTP_HOST', 'example.com'],
  ];
}

/** Debian's /etc/nginx/scgi_params, after the CONTENT_LENGTH nginx itself sends first. */
function scgiParams(remotePort, uri = '/?page=2') {
  const q = uri.indexOf('?');
  return [
    ['CONTENT_LENGTH', '0'],
    ['REQUEST_METHOD', 'GET'],
    ['REQUEST_URI', uri],
    ['QUERY_STRING', q === -1 ? '' : uri.slice(q + 1)],
    ['CONTENT_TYPE', ''],
    ['DOCUMENT_URI', q === -1 ? uri : uri.slice(0, q)],
    ['DOCUMENT_ROOT', '/usr/share/nginx/html'],
    ['SCGI', '1'],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['REQUEST_SCHEME', 'http'],
    ['REMOTE_ADDR', '203.0.113.57'],
    ['REMOTE_PORT', String(remotePort)],
    ['SERVER_PORT', '80'],
    ['SERVER_NAME', 'example.com'],
    ['HTTP_HOST', 'example.com'],
  ];
}

/**
 * The request headers of a browser's page load, as nginx passes them on (HTTP_*; Host is left out
 * because the params above set HTTP_HOST, and nginx then skips the header).
 */
const BROWSER_HEADERS = [
  [
    'HTTP_USER_AGENT',
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  ],
  [
    'HTTP_ACCEPT',
    'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8',
  ],
  ['HTTP_ACCEPT_LANGUAGE', 'en-US,en;q=0.9,de;q=0.8'],
  ['HTTP_ACCEPT_ENCODING', 'gzip, deflate, br, zstd'],
  ['HTTP_CONNECTION', 'keep-alive'],
  ['HTTP_UPGRADE_INSECURE_REQUESTS', '1'],
  ['HTTP_SEC_FETCH_DEST', 'document'],
  ['HTTP_SEC_FETCH_MODE', 'navigate'],
  ['HTTP_SEC_FETCH_SITE', 'same-origin'],
  ['HTTP_REFERER', 'http://example.com/?page=1'],
  [
    'HTTP_COOKIE',
    'sessionid=q8w7e6r5t4y3u2i1o0p9a8s7d6f5g4h3; csrftoken=Zx8Cv7Bn6Mm5Ll4Kk3Jj2Hh1Gg0Ff9Dd8Ss7Aa6Qq5Ww4Ee3Rr2Tt1; ' +
      'theme=dark; _ga=GA1.1.1234567890.1700000000',
  ],
];

/** The request wrk sends in bench/e2e.mjs (`GET /`, Host only): 20 params, no HTTP_* beyond HTTP_HOST. */
const helloPairs = (port) => fastcgiParams(port, '/');
/** A browser's GET /?page=2: fastcgi_params + 11 headers = 31 params, ~1 KiB encoded. */
const browserPairs = (port) => [...fastcgiParams(port), ...BROWSER_HEADERS];

/**
 * Requests come from many client ports: VARIANTS copies that differ only in REMOTE_PORT, cycled
 * through, so the pair decoder's intern table cannot serve that one value every time.
 */
const VARIANTS = 256;
const variantPort = (i) => 40000 + i * 97;

function scgiRequest(pairs) {
  let block = '';
  for (const [name, value] of pairs) block += name + '\0' + value + '\0';
  return Buffer.from(`${Buffer.byteLength(block, 'latin1')}:${block},`, 'latin1');
}

/** One request on a kept-alive connection, as nginx writes it: BEGIN, PARAMS, empty PARAMS, empty STDIN. */
function fastcgiRequest(pairs) {
  return Buffer.concat([
    writer.beginRequestRecord(1, FCGI_RESPONDER, FCGI_KEEP_CONN),
    ...writer.paramsRecords(1, pairs),
    writer.streamEndRecord(FCGI_STDIN, 1),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Sinks: each a class, so the parser's calls into it stay monomorphic

const fail = (err) => {
  throw err;
};

/** RecordSink that only counts: the parser's own cost. */
class CountingRecordSink {
  constructor() {
    this.begun = 0;
    this.pairs = 0;
    this.stdinBytes = 0;
    this.stdinEnded = 0;
  }
  beginRequest() {
    this.begun++;
  }
  overloaded(id) {
    fail(new Error(`unexpected overloaded(${id})`));
  }
  params(_id, pairs) {
    this.pairs += pairs.length;
  }
  stdin(_id, chunk) {
    this.stdinBytes += chunk.length;
  }
  stdinEnd() {
    this.stdinEnded++;
  }
  data() {
    fail(new Error('unexpected data'));
  }
  dataEnd() {
    fail(new Error('unexpected dataEnd'));
  }
  abortRequest() {
    fail(new Error('unexpected abortRequest'));
  }
  getValues() {
    fail(new Error('unexpected getValues'));
  }
  unknownType() {
    fail(new Error('unexpected unknownType'));
  }
  error(err) {
    fail(err);
  }
}

/** Static stand-ins for the per-request objects createEnviron only stores (streams, signal, logger). */
const STATIC_REQUEST_CONTEXT = Object.freeze({
  input: { stand_in: 'sluice.input' },
  errors: { stand_in: 'sluice.errors' },
  signal: new AbortController().signal,
  protocol: 'fastcgi',
  log: { stand_in: 'sluice.log' },
  multiprocess: false,
});
const ENVIRON_OPTIONS = Object.freeze({ mount: '' });

/**
 * RecordSink doing what FastCgiConnection + FastCgiRequest.start do with the records up to the app
 * call: variables from the pairs, FCGI_ROLE, the environ; the id is released at the empty STDIN (the
 * real connection releases it at END_REQUEST) so the same kept-alive parser takes the next request.
 */
class EnvironSink extends CountingRecordSink {
  constructor() {
    super();
    this.parser = null;
    this.environ = null;
    this.keys = 0;
  }
  params(_id, pairs) {
    const vars = buildCgiVariables(pairs, ENVIRON_OPTIONS);
    vars.FCGI_ROLE = 'RESPONDER';
    this.environ = createEnviron(vars, STATIC_REQUEST_CONTEXT);
    this.pairs += pairs.length;
  }
  stdinEnd(id) {
    this.stdinEnded++;
    this.parser.requestDone(id);
  }
}

class CountingScgiSink {
  constructor() {
    this.pairs = 0;
    this.requests = 0;
  }
  headers(pairs, contentLength) {
    this.pairs += pairs.length + contentLength;
  }
  body() {
    fail(new Error('unexpected body'));
  }
  bodyEnd() {
    this.requests++;
  }
  excess(bytes) {
    fail(new Error(`unexpected excess ${bytes}`));
  }
  error(err) {
    fail(err);
  }
}

// ---------------------------------------------------------------------------------------------
// Cases. Each `setup()` builds its data outside the timing and checks one pass for correctness; it
// returns `run(n)`, which does n operations in a loop of its own (one loop per case, so that no call
// site is shared between cases) and returns a number that feeds the checksum (nothing is dead code).

function stdinCase(recordContent) {
  return () => {
    const payload = Buffer.alloc(64 * MiB, 0x61);
    const stream = Buffer.concat([
      writer.beginRequestRecord(1, FCGI_RESPONDER, FCGI_KEEP_CONN),
      ...writer.paramsRecords(1, browserPairs(variantPort(0))),
      ...writer.stdinRecords(1, payload, recordContent),
      writer.streamEndRecord(FCGI_STDIN, 1),
    ]);
    // Socket-sized reads: 64 KiB each, cut without regard to record boundaries.
    const chunks = [];
    for (let at = 0; at < stream.length; at += 64 * KiB) chunks.push(stream.subarray(at, at + 64 * KiB));
    const sink = new CountingRecordSink();
    const run = (n) => {
      let bytes = 0;
      for (let i = 0; i < n; i++) {
        sink.stdinBytes = 0;
        const parser = new RecordParser(sink);
        for (let c = 0; c < chunks.length; c++) parser.push(chunks[c]);
        parser.end();
        bytes += sink.stdinBytes;
      }
      return bytes;
    };
    const once = run(1);
    check(once === payload.length && sink.stdinEnded === 1 && sink.begun === 1, 'STDIN bytes delivered');
    const records = Math.ceil(payload.length / recordContent);
    return {
      run,
      bytesPerOp: stream.length,
      detail:
        `${(stream.length / MiB).toFixed(1)} MiB per pass: ${records} STDIN records in ${chunks.length} ` +
        'chunks of 64 KiB; payload views, never copied',
      extra: { streamBytes: stream.length, stdinBytes: payload.length, records, chunks: chunks.length },
    };
  };
}

function paramsDecodeCase(varied) {
  return () => {
    const buffers = Array.from({ length: VARIANTS }, (_, i) =>
      encodePairs(browserPairs(variantPort(varied ? i : 0))),
    );
    const run = (n) => {
      let count = 0;
      for (let i = 0; i < n; i++) count += decodePairList(buffers[i & (VARIANTS - 1)]).length;
      return count;
    };
    const list = decodePairList(buffers[1]);
    check(list.length === 62 && list[list.length - 2] === 'HTTP_COOKIE', '31 pairs decoded');
    return {
      run,
      detail: `31 pairs, ${buffers[0].length} bytes encoded`,
      extra: { pairs: 31, encodedBytes: buffers[0].length },
    };
  };
}

function scgiCase() {
  const requests = Array.from({ length: VARIANTS }, (_, i) =>
    scgiRequest([...scgiParams(variantPort(i)), ...BROWSER_HEADERS]),
  );
  const sink = new CountingScgiSink();
  const run = (n) => {
    for (let i = 0; i < n; i++) {
      const parser = new ScgiParser(sink);
      parser.push(requests[i & (VARIANTS - 1)]);
    }
    return sink.requests;
  };
  run(1);
  check(sink.requests === 1 && sink.pairs === 52, '26 headers parsed');
  return {
    run,
    detail: `26 headers, ${requests[0].length} bytes, a new parser per request (one request per connection)`,
    extra: { headers: 26, requestBytes: requests[0].length },
  };
}

const HEAD_STATUS = '200 OK';
const HEAD_HEADERS = [
  ['Content-Type', 'text/html; charset=utf-8'],
  ['Content-Length', '5120'],
  ['Cache-Control', 'no-store'],
  ['Set-Cookie', 'sid=31d4d96e407aad42; Path=/; HttpOnly; SameSite=Lax'],
];

function headCase(which) {
  return () => {
    const head = validateHead(HEAD_STATUS, HEAD_HEADERS);
    const bytes = serializeHead(head);
    check(bytes.toString('latin1').startsWith('Status: 200 OK\r\nContent-Type: '), 'head serialized');
    let run;
    if (which === 'both') {
      run = (n) => {
        let total = 0;
        for (let i = 0; i < n; i++) total += serializeHead(validateHead(HEAD_STATUS, HEAD_HEADERS)).length;
        return total;
      };
    } else if (which === 'validate') {
      run = (n) => {
        let total = 0;
        for (let i = 0; i < n; i++) total += validateHead(HEAD_STATUS, HEAD_HEADERS).code;
        return total;
      };
    } else {
      run = (n) => {
        let total = 0;
        for (let i = 0; i < n; i++) total += serializeHead(head).length;
        return total;
      };
    }
    const detail =
      which === 'validate'
        ? '4 headers: one regex test for the status, two per header'
        : `4 headers, ${bytes.length} bytes out`;
    return { run, detail, extra: { headBytes: bytes.length } };
  };
}

function stdoutCase(size) {
  return () => {
    const body = Buffer.alloc(size, 0x62);
    const records = writer.stdoutRecords(1, body);
    const wire = records.reduce((sum, b) => sum + b.length, 0);
    let expected = 0;
    for (let left = size; left > 0; left -= 65535)
      expected += 8 + Math.min(left, 65535) + (-Math.min(left, 65535) & 7);
    check(wire === expected && records[1].buffer === body.buffer, 'STDOUT records of views');
    const run = (n) => {
      let parts = 0;
      for (let i = 0; i < n; i++) parts += writer.stdoutRecords(1, body).length;
      return parts;
    };
    return {
      run,
      bytesPerOp: size >= MiB ? size : undefined,
      detail: `${records.length} buffers (headers, payload views, padding), ${wire} bytes on the wire`,
      extra: { bodyBytes: size, buffers: records.length, wireBytes: wire },
    };
  };
}

function endRequestCase(requestId) {
  return () => {
    const record = writer.endRequestRecord(requestId);
    check(record.length === 16 && record[1] === 3, 'END_REQUEST record');
    const run = (n) => {
      let total = 0;
      for (let i = 0; i < n; i++) total += writer.endRequestRecord(requestId).length;
      return total;
    };
    return {
      run,
      detail:
        requestId === 1 ? 'id 1, status 0: a prebuilt shared buffer' : `id ${requestId}: built (16 bytes)`,
    };
  };
}

function fullPathCase(pairsFor) {
  return () => {
    const requests = Array.from({ length: VARIANTS }, (_, i) => fastcgiRequest(pairsFor(variantPort(i))));
    const sink = new EnvironSink();
    const parser = new RecordParser(sink);
    sink.parser = parser;
    const run = (n) => {
      for (let i = 0; i < n; i++) parser.push(requests[i & (VARIANTS - 1)]);
      return sink.stdinEnded;
    };
    run(1);
    const env = sink.environ;
    check(
      sink.stdinEnded === 1 &&
        parser.activeRequests === 0 &&
        env.REQUEST_METHOD === 'GET' &&
        env.PATH_INFO === '/' &&
        env['sluice.url_scheme'] === 'http',
      'environ built',
    );
    const pairs = pairsFor(0).length;
    return {
      run,
      detail: `${pairs} params, ${requests[0].length} bytes in one chunk; one kept-alive parser`,
      extra: { params: pairs, requestBytes: requests[0].length, environKeys: Object.keys(env).length },
    };
  };
}

function abortControllerCase() {
  const run = (n) => {
    let aborted = 0;
    for (let i = 0; i < n; i++) if (new AbortController().signal.aborted) aborted++;
    return aborted;
  };
  return { run, detail: 'FastCgiRequest makes one per request (not in the path above)' };
}

function loggerChildCase() {
  const pino = require('pino');
  // The daemon's settings (src/process/logger.ts) with a sink that discards: only the child is timed.
  const log = pino({ level: 'info', base: { pid: process.pid } }, { write() {} });
  const connection = log.child({ protocol: 'fastcgi', conn: 1 });
  const run = (n) => {
    let levels = 0;
    for (let i = 0; i < n; i++) levels += connection.child({ fcgiId: (i & 255) + 1 }).levelVal;
    return levels;
  };
  return { run, detail: 'pino child with { fcgiId }, one per request (not in the path above)' };
}

// ---------------------------------------------------------------------------------------------
// Case 7: heap allocations of one FastCGI hello request on sluice's real server-side path. A worker
// thread plays nginx on a kept-alive connection over a Unix socket (its allocations are in its own
// heap, not counted); this thread runs serveFastCgi on the accepted socket. V8's sampling heap
// profiler, with a sampling interval below any object's size, samples every allocation of this
// thread's heap, and with includeObjectsCollectedBy{Minor,Major}GC keeps the samples of objects
// that were collected since. The case's process runs with --no-turbo-allocation-folding: otherwise
// optimized code allocates several objects as one, which the profiler sees as one sample.

const ALLOC_NODE_ARGS = ['--no-turbo-allocation-folding'];
const ALLOC_SITES_SHOWN = 15;
// Requests before counting (unprofiled, ~60 µs each here), and per counted round (~1 ms each: the
// profiler records a stack per object). After 20,000 the first rounds still counted a few more.
const ALLOC_WARMUP = 50_000;
const ALLOC_WARMUP_QUICK = 2_000;
const ALLOC_ROUND = 4 * VARIANTS;
const APP_MODULE = path.join(BENCH_DIR, 'apps', 'gateway.mjs'); // the e2e app: GET / answers "Hello, world!\n"
const HELLO_BODY = 'Hello, world!\n';
const FCGI_STDOUT = 6;
const FCGI_END_REQUEST = 3;

/** Worker thread: nginx's side of one kept-alive FastCGI connection, a request at a time. */
function fastcgiClient({ socketPath, requests }) {
  const socket = net.connect(socketPath);
  let buffered = Buffer.alloc(0);
  let next = 0;
  let left = 0;
  let stdout = [];
  let first = null;
  const send = () => socket.write(requests[next++ % requests.length]);
  socket.on('data', (chunk) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    // Records: version, type, id (2), content length (2), padding, reserved; then content and padding.
    for (;;) {
      if (buffered.length < 8) return;
      const length = 8 + buffered.readUInt16BE(4) + buffered[6];
      if (buffered.length < length) return;
      const type = buffered[1];
      if (first === null && type === FCGI_STDOUT)
        stdout.push(buffered.subarray(8, 8 + buffered.readUInt16BE(4)));
      buffered = buffered.subarray(length);
      if (type !== FCGI_END_REQUEST) continue;
      first ??= Buffer.concat(stdout).toString('latin1');
      stdout = null;
      if (--left > 0) send();
      else parentPort.postMessage({ done: true, first });
    }
  });
  socket.on('error', (err) => parentPort.postMessage({ error: err.message }));
  parentPort.on('message', ({ count }) => {
    left = count;
    if (count > 0) send();
    else parentPort.postMessage({ done: true, first });
  });
}

/** Where an allocation came from: the file of its frame, by kind. */
function frameKind(url, distUrl) {
  if (url.startsWith(distUrl)) return 'sluice';
  if (url.startsWith('node:')) return 'node';
  if (url.includes('/bench/apps/')) return 'app';
  if (url.includes('/node_modules/')) return 'dependencies';
  return url === '' ? 'V8 builtins, or no JS frame' : 'other';
}

/**
 * One sampling profile, as counts: objects and bytes in all, by kind of the frame that allocated,
 * and by the nearest sluice function on the stack (allocations sluice causes in Node's streams and
 * sockets count for the sluice function that called them). The profiler records physical frames:
 * what an optimized function inlined counts for it, so the split moves as the JIT inlines.
 */
function countProfile(profile, dist) {
  const distUrl = dist + path.sep;
  const nodes = new Map();
  const walk = (node, parent) => {
    nodes.set(node.id, { node, parent });
    for (const child of node.children) walk(child, node.id);
  };
  walk(profile.head, null);
  const frameUrl = (node) => node.callFrame.url.replace(/^file:\/\//, '');
  const site = (node) =>
    `${node.callFrame.functionName || '(anonymous)'} ${path.relative(dist, frameUrl(node))}:${node.callFrame.lineNumber + 1}`;
  const out = { objects: 0, bytes: 0, kinds: {}, sites: {} };
  const add = (table, key, size) => {
    const entry = (table[key] ??= { objects: 0, bytes: 0 });
    entry.objects++;
    entry.bytes += size;
  };
  for (const sample of profile.samples) {
    out.objects++;
    out.bytes += sample.size;
    const leaf = nodes.get(sample.nodeId).node;
    const kind = frameKind(frameUrl(leaf), distUrl);
    add(out.kinds, kind, sample.size);
    let at = sample.nodeId;
    while (at !== null && frameKind(frameUrl(nodes.get(at).node), distUrl) !== 'sluice')
      at = nodes.get(at).parent;
    add(out.sites, at === null ? `(no sluice frame: ${kind})` : site(nodes.get(at).node), sample.size);
  }
  return out;
}

async function allocCase(options) {
  const pino = require('pino');
  const app = (await import(pathToFileURL(APP_MODULE).href)).default;
  // As the daemon's logger at its default level (src/gateway/logger.ts), writing nowhere.
  const log = pino({ level: 'info', base: { pid: process.pid } }, { write() {} });
  const context = serveContext(app, log);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-micro-'));
  const socketPath = path.join(dir, 'fastcgi.sock');
  const server = net.createServer((socket) => serveFastCgi(socket, context, () => undefined, false));
  await new Promise((resolve) => server.listen(socketPath, resolve));
  const requests = Array.from({ length: VARIANTS }, (_, i) => fastcgiRequest(helloPairs(variantPort(i))));
  const worker = new Worker(fileURLToPath(import.meta.url), {
    workerData: { role: 'fastcgi-client', socketPath, requests },
  });
  const ask = (count) =>
    new Promise((resolve, reject) => {
      worker.once('message', (m) => (m.error ? reject(new Error(m.error)) : resolve(m)));
      worker.postMessage({ count });
    });
  const session = new Session();
  session.connect();
  const post = (method, params) =>
    new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
  const dist = path.join(buildDir(options), 'dist');
  /** Objects and bytes this thread allocates while the client sends `count` requests. */
  const window = async (count) => {
    await post('HeapProfiler.startSampling', {
      samplingInterval: 1, // V8 rounds it up to a pointer's size: smaller than any object
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    await ask(count);
    const { profile } = await post('HeapProfiler.stopSampling');
    return countProfile(profile, dist);
  };

  const { first } = await ask(1);
  check(
    first.startsWith('Status: 200') && first.endsWith(`\r\n\r\n${HELLO_BODY}`),
    `hello response (got ${JSON.stringify(first.slice(0, 200))})`,
  );
  await ask(options.quick ? ALLOC_WARMUP_QUICK : ALLOC_WARMUP); // the JIT settles before counting
  await post('HeapProfiler.enable');
  // What a window counts without any request (the profiler's replies, the worker's message) is
  // taken off every round.
  const overhead = await window(0);
  const perRound = options.quick ? VARIANTS : ALLOC_ROUND; // every variant as often in each round
  const rounds = [];
  const totals = { kinds: {}, sites: {} };
  for (let r = 0; r < options.rounds; r++) {
    const counted = await window(perRound);
    rounds.push({
      requests: perRound,
      objectsPerOp: (counted.objects - overhead.objects) / perRound,
      bytesPerOp: (counted.bytes - overhead.bytes) / perRound,
    });
    for (const key of ['kinds', 'sites']) {
      for (const [sign, from] of [
        [1, counted],
        [-1, overhead],
      ]) {
        for (const [name, v] of Object.entries(from[key])) {
          const entry = (totals[key][name] ??= { objects: 0, bytes: 0 });
          entry.objects += sign * v.objects;
          entry.bytes += sign * v.bytes;
        }
      }
    }
  }
  await post('HeapProfiler.disable');
  session.disconnect();
  await worker.terminate();
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
  const n = perRound * options.rounds;
  const per = (table) =>
    Object.entries(table)
      .map(([name, v]) => ({ name, objects: v.objects / n, bytes: v.bytes / n }))
      .filter((e) => e.objects > 0)
      .sort((a, b) => b.objects - a.objects);
  return {
    rounds,
    batch: perRound,
    detail:
      `wrk's GET / (${helloPairs(0).length} params, ${requests[0].length} bytes) on one kept-alive ` +
      'connection, answered by bench/apps/gateway.mjs',
    extra: {
      requestBytes: requests[0].length,
      windowOverhead: { objects: overhead.objects, bytes: overhead.bytes },
      byKind: per(totals.kinds),
      bySluiceFunction: per(totals.sites),
    },
  };
}

function check(ok, what) {
  if (!ok) throw new Error(`bench/micro: self-check failed: ${what}`);
}

/** Every case: id, group (the brief's numbering), what is timed, unit, and its target if any. */
const CASES = [
  {
    id: 'stdin-32k',
    group: 1,
    name: 'FastCGI STDIN parsing, 32 KiB records (as nginx sends)',
    unit: 'GB/s',
    target: { op: '>=', value: 2, text: '≥ 2 GB/s' },
    setup: stdinCase(32 * KiB),
  },
  {
    id: 'stdin-64k',
    group: 1,
    name: 'FastCGI STDIN parsing, 65535-byte records (largest)',
    unit: 'GB/s',
    target: { op: '>=', value: 2, text: '≥ 2 GB/s' },
    setup: stdinCase(65535),
  },
  {
    id: 'stdin-8k',
    group: 1,
    name: 'FastCGI STDIN parsing, 8 KiB records (per-record cost shows)',
    unit: 'GB/s',
    target: { op: '>=', value: 2, text: '≥ 2 GB/s' },
    setup: stdinCase(8 * KiB),
  },
  {
    id: 'params-decode',
    group: 2,
    name: 'PARAMS decoding, browser GET (REMOTE_PORT varies)',
    unit: 'ns',
    target: { op: '<=', value: 1000, text: '≤ 1 µs' },
    setup: paramsDecodeCase(true),
  },
  {
    id: 'params-decode-same',
    group: 2,
    name: 'PARAMS decoding, the identical request every time',
    unit: 'ns',
    target: { op: '<=', value: 1000, text: '≤ 1 µs' },
    setup: paramsDecodeCase(false),
  },
  {
    id: 'scgi-parse',
    group: 3,
    name: 'SCGI request parsing (header netstring), browser GET',
    unit: 'ns',
    setup: scgiCase,
  },
  {
    id: 'head',
    group: 4,
    name: 'Response head: validateHead + serializeHead',
    unit: 'ns',
    setup: headCase('both'),
  },
  {
    id: 'head-validate',
    group: 4,
    name: '… validateHead alone',
    unit: 'ns',
    setup: headCase('validate'),
  },
  {
    id: 'head-serialize',
    group: 4,
    name: '… serializeHead alone',
    unit: 'ns',
    setup: headCase('serialize'),
  },
  { id: 'stdout-14', group: 5, name: 'stdoutRecords, 14-byte body', unit: 'ns', setup: stdoutCase(14) },
  { id: 'stdout-1m', group: 5, name: 'stdoutRecords, 1 MiB body', unit: 'ns', setup: stdoutCase(MiB) },
  { id: 'end-request', group: 5, name: 'endRequestRecord(1)', unit: 'ns', setup: endRequestCase(1) },
  {
    id: 'end-request-id2',
    group: 5,
    name: 'endRequestRecord(2)',
    unit: 'ns',
    setup: endRequestCase(2),
  },
  {
    id: 'path-hello',
    group: 6,
    name: 'FastCGI bytes → environ, hello request (wrk’s GET /)',
    unit: 'ns',
    setup: fullPathCase(helloPairs),
  },
  {
    id: 'path-browser',
    group: 6,
    name: 'FastCGI bytes → environ, browser GET',
    unit: 'ns',
    setup: fullPathCase(browserPairs),
  },
  {
    id: 'abort-controller',
    group: 6,
    name: 'for comparison: new AbortController()',
    unit: 'ns',
    setup: abortControllerCase,
  },
  {
    id: 'logger-child',
    group: 6,
    name: 'for comparison: pino logger.child()',
    unit: 'ns',
    setup: loggerChildCase,
  },
  {
    id: 'alloc-hello',
    group: 7,
    name: 'Heap allocations per FastCGI hello request (serveFastCgi on a Unix socket)',
    unit: 'objects',
    count: allocCase, // counts instead of timing: its own rounds
    nodeArgs: ALLOC_NODE_ARGS,
  },
];

// ---------------------------------------------------------------------------------------------
// Measurement

let checksum = 0;

const nowNs = () => process.hrtime.bigint();
const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/**
 * Warm-up with growing batches (which also tiers the code up), then sizes the batch so that one round
 * takes about roundMs, then `rounds` timed rounds. Returns per-round ns/op and on-CPU share.
 */
function measure(run, options) {
  let n = 1;
  let lastNs;
  const warmupEnd = performance.now() + options.warmupMs;
  // Grow until a batch takes >= 5 ms (or 2^24 ops), then keep running such batches until the warm-up ends.
  for (;;) {
    const t0 = nowNs();
    checksum += run(n);
    lastNs = Number(nowNs() - t0);
    if (lastNs >= 5e6 || n >= 1 << 24) {
      if (performance.now() >= warmupEnd) break;
    } else {
      n *= 2;
    }
  }
  const perOpNs = lastNs / n;
  const batch = Math.max(1, Math.round((options.roundMs * 1e6) / perOpNs));
  const rounds = [];
  for (let r = 0; r < options.rounds; r++) {
    const c0 = cpuUs();
    const t0 = nowNs();
    checksum += run(batch);
    const ns = Number(nowNs() - t0);
    const cpu = (cpuUs() - c0) * 1e3;
    rounds.push({ nsPerOp: ns / batch, wallNs: ns, onCpu: cpu / ns });
  }
  return { batch, rounds };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * The figure a case reports for a round: GB/s (1e9 bytes per second) for throughput cases, objects
 * per request for the allocation count, else ns per op.
 */
function figure(c, round) {
  if (c.unit === 'objects') return round.objectsPerOp;
  return c.unit === 'GB/s' ? c.bytesPerOp / round.nsPerOp : round.nsPerOp;
}

function summarize(c, m) {
  const values = m.rounds.map((r) => figure(c, r));
  if (c.unit === 'objects') {
    const bytes = m.rounds.map((r) => r.bytesPerOp);
    return {
      median: median(values),
      min: Math.min(...values),
      max: Math.max(...values),
      bytesPerOpMedian: median(bytes),
      bytesPerOpMin: Math.min(...bytes),
      bytesPerOpMax: Math.max(...bytes),
    };
  }
  const nsPerOp = m.rounds.map((r) => r.nsPerOp);
  const s = {
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    nsPerOpMedian: median(nsPerOp),
    onCpuMedian: median(m.rounds.map((r) => r.onCpu)),
    onCpuMin: Math.min(...m.rounds.map((r) => r.onCpu)),
  };
  if (c.bytesPerOp !== undefined) s.gbPerS = c.bytesPerOp / s.nsPerOpMedian;
  if (c.target) {
    const t = c.target;
    const met = t.op === '>=' ? s.median >= t.value : s.median <= t.value;
    const everyRound = values.every((v) => (t.op === '>=' ? v >= t.value : v <= t.value));
    s.verdict = { met, everyRound, ratio: s.median / t.value };
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Formatting

const group3 = (n) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

function fmtValue(c, v) {
  if (c.unit === 'GB/s') return `${v.toFixed(2)} GB/s`;
  if (c.unit === 'objects') return `${v.toFixed(1)} objects`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} ms`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)} µs`;
  if (v >= 100) return `${group3(v)} ns`;
  return `${v.toFixed(1)} ns`;
}

function fmtRange(c, s) {
  if (c.unit === 'GB/s') return `${s.min.toFixed(2)}–${s.max.toFixed(2)}`;
  if (c.unit === 'objects') return `${s.min.toFixed(1)}–${s.max.toFixed(1)}`;
  const f = (v) => fmtValue(c, v).replace(/ (ns|µs|ms)$/, '');
  return `${f(s.min)}–${f(s.max)}`;
}

function fmtVerdict(c, s) {
  if (!c.target) return '';
  const { met, everyRound, ratio } = s.verdict;
  const always = met && !everyRound ? ' (not every round)' : '';
  if (c.target.op === '>=') {
    return met
      ? `met: ${ratio.toFixed(1)}× the target${always}`
      : `**missed** by ${((1 - ratio) * 100).toFixed(0)} % (${ratio.toFixed(2)}×)`;
  }
  return met
    ? `met: ${(ratio * 100).toFixed(0)} % of the budget${always}`
    : `**missed** by ${((ratio - 1) * 100).toFixed(0)} % (${ratio.toFixed(2)}×)`;
}

function fmtExtra(c, s) {
  // Throughput next to time per op and the reverse, where both mean something.
  if (c.unit === 'GB/s') return `${(s.nsPerOpMedian / 1e6).toFixed(1)} ms per pass`;
  if (c.unit === 'objects')
    return `${group3(s.bytesPerOpMedian)} bytes per request (${group3(s.bytesPerOpMin)}–${group3(s.bytesPerOpMax)})`;
  if (s.gbPerS !== undefined) return `${s.gbPerS.toFixed(0)} GB/s (views, no copy)`;
  return '';
}

function table(results) {
  const lines = [
    '| # | case | median | min–max | target | verdict | on-CPU | notes |',
    '| -: | ---- | -----: | ------: | ------ | ------- | -----: | ----- |',
  ];
  for (const r of results) {
    if (r.skipped) {
      lines.push(`| ${r.group} | ${r.name} (\`${r.id}\`) | skipped | | | | | ${r.skipped} |`);
      continue;
    }
    const s = r.summary;
    const extra = fmtExtra(r, s);
    lines.push(
      `| ${r.group} | ${r.name} (\`${r.id}\`) | ${fmtValue(r, s.median)} | ${fmtRange(r, s)} | ` +
        `${r.target ? r.target.text : ''} | ${fmtVerdict(r, s)} | ` +
        `${s.onCpuMedian === undefined ? '' : `${(s.onCpuMedian * 100).toFixed(0)} %`} | ` +
        `${[r.detail, extra].filter(Boolean).join('; ')} |`,
    );
  }
  return lines.join('\n');
}

/** --baseline: each case's median on this build and on the baseline, and this ÷ baseline. */
function baselineLines(results, baseline) {
  const lines = [
    `Baseline: ${baseline.dir}, sluice ${baseline.gitCommit ?? '?'}${baseline.gitDirty ? ' + uncommitted changes in src/' : ''} ` +
      `(dist/ sha256 ${baseline.distSha256}).`,
    '',
    '| case | this build | baseline | ÷ |',
    '| ---- | ---------: | -------: | -: |',
  ];
  for (const r of results.filter((x) => x.build === 'current' && x.summary)) {
    const b = results.find((x) => x.build === 'baseline' && x.id === r.id && x.summary);
    if (!b) continue;
    let cells = `${fmtValue(r, r.summary.median)} | ${fmtValue(b, b.summary.median)} | ${(r.summary.median / b.summary.median).toFixed(3)}×`;
    if (r.unit === 'objects') {
      const [x, y] = [r.summary.bytesPerOpMedian, b.summary.bytesPerOpMedian];
      cells = `${fmtValue(r, r.summary.median)}, ${group3(x)} B | ${fmtValue(b, b.summary.median)}, ${group3(y)} B | ${(r.summary.median / b.summary.median).toFixed(3)}×, ${(x / y).toFixed(3)}×`;
    }
    lines.push(`| \`${r.id}\` | ${cells} |`);
  }
  return lines.join('\n');
}

/** For the allocation count: where the objects come from, per request, summed over all its rounds. */
function allocTables(results) {
  const out = [];
  const fmt = (x) => (x >= 10 ? x.toFixed(0) : x.toFixed(2));
  for (const r of results.filter((x) => x.unit === 'objects' && x.summary)) {
    const rows = (list) => list.map((e) => `| ${e.name} | ${fmt(e.objects)} | ${fmt(e.bytes)} |`).join('\n');
    const sites = r.extra.bySluiceFunction;
    const shown = sites.slice(0, ALLOC_SITES_SHOWN);
    const rest = sites.slice(ALLOC_SITES_SHOWN);
    const restRow = rest.length
      ? `\n| … ${rest.length} more | ${fmt(rest.reduce((n, e) => n + e.objects, 0))} | ${fmt(rest.reduce((n, e) => n + e.bytes, 0))} |`
      : '';
    out.push(
      `#### \`${r.id}\`${r.build === 'baseline' ? ' [baseline]' : ''}: ${fmtValue(r, r.summary.median)} and ` +
        `${group3(r.summary.bytesPerOpMedian)} bytes per request\n\n` +
        `| allocated in | objects per request | bytes per request |\n| --- | ---: | ---: |\n${rows(r.extra.byKind)}\n\n` +
        `| nearest sluice function on the stack (dist/ file:line) | objects per request | bytes per request |\n` +
        `| --- | ---: | ---: |\n${rows(shown)}${restRow}`,
    );
  }
  return out.join('\n\n');
}

// ---------------------------------------------------------------------------------------------
// Machine and build

function machine() {
  return { ...machineAndBuild(), v8: process.versions.v8, execArgv: process.execArgv };
}

// ---------------------------------------------------------------------------------------------

/** Child mode: set one case up, measure it, print the result as one JSON line on stdout. */
async function runChild(id, options) {
  const c = CASES.find((x) => x.id === id);
  if (!c) usageError(`unknown case id ${id}`);
  bindSluice(options);
  if (c.count) {
    const counted = await c.count(options);
    process.stdout.write(JSON.stringify({ ...counted, checksum }) + '\n');
    return;
  }
  const prepared = c.setup();
  const m = measure(prepared.run, options);
  const out = {
    bytesPerOp: prepared.bytesPerOp,
    detail: prepared.detail,
    extra: prepared.extra,
    batch: m.batch,
    rounds: m.rounds,
    checksum,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

/**
 * Runs one case in a fresh node (same flags as this one, so --cpu-prof reaches it): no JIT feedback,
 * intern-table contents or garbage carry over from one case to the next, and a case that hangs is
 * killed at the end of the budget.
 */
function spawnCase(c, options, timeoutMs, build) {
  const args = [
    ...process.execArgv,
    ...(c.nodeArgs ?? []),
    fileURLToPath(import.meta.url),
    '--child',
    c.id,
    '--rounds',
    String(options.rounds),
    '--round-ms',
    String(options.roundMs),
    '--warmup-ms',
    String(options.warmupMs),
    ...(options.quick ? ['--quick'] : []),
    ...(build === 'baseline' ? ['--baseline', options.baseline] : []),
  ];
  const r = spawnSync(process.execPath, args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: Math.floor(timeoutMs),
    killSignal: 'SIGKILL',
    maxBuffer: 16 * MiB,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error?.code === 'ETIMEDOUT' || r.signal === 'SIGKILL') return { error: 'killed at the time budget' };
  if (r.status !== 0) {
    return {
      error: `exit ${r.status ?? r.signal}: ${(r.stderr || '').trim().split('\n').slice(-3).join(' / ')}`,
    };
  }
  const line = r.stdout.trim().split('\n').pop();
  return JSON.parse(line);
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (options.child) {
    await runChild(options.child, options);
    return;
  }
  if (options.list) {
    for (const c of CASES) console.log(`${c.id.padEnd(20)} ${c.group}  ${c.name}`);
    return;
  }
  if (options.only) {
    const unknown = options.only.filter((id) => !CASES.some((c) => c.id === id));
    if (unknown.length) usageError(`unknown case id(s): ${unknown.join(', ')} (see --list)`);
  }
  const builds = options.baseline === undefined ? ['current'] : ['current', 'baseline'];
  for (const build of builds) {
    const { dist, missing } = modulesOf(build === 'baseline' ? options : { ...options, baseline: undefined });
    if (missing.length === 0) continue;
    console.error(
      `bench/micro: ${missing.map((f) => path.join(dist, f)).join(', ')} missing: ` +
        (build === 'current'
          ? 'run `npm run build` first (or re-point MODULES at the top of bench/micro.mjs)'
          : 'is the baseline built? (or set its paths in BASELINE_MODULES at the top of bench/micro.mjs)'),
    );
    process.exit(2);
  }
  if (newestMtime(path.join(ROOT, 'src')) > fs.statSync(path.join(DIST, 'index.js')).mtimeMs) {
    console.error('bench/micro: WARNING: src/ is newer than dist/: run `npm run build` to measure it');
  }
  const started = new Date();
  const startMs = performance.now();
  const info = machine();
  const baseline =
    options.baseline === undefined ? null : { dir: options.baseline, ...buildOf(options.baseline) };
  console.error(
    `bench/micro: node ${info.node}, ${info.nproc} CPUs (${info.cpu}), load ${info.loadavgAtStart.join(' ')}; ` +
      `${options.rounds} rounds of ~${options.roundMs} ms after ${options.warmupMs} ms warm-up per case, ` +
      `each case in its own process${options.quick ? ' (--quick: a smoke test, not a measurement)' : ''}`,
  );

  const results = [];
  // With --baseline each case runs on this build, then on the baseline, each in its own process.
  for (const c of CASES.flatMap((x) => builds.map((build) => ({ ...x, build })))) {
    if (options.only && !options.only.includes(c.id)) continue;
    const tag = c.build === 'baseline' ? ' [baseline]' : '';
    const base = {
      id: c.id,
      build: c.build,
      group: c.group,
      name: c.name + tag,
      unit: c.unit,
      target: c.target,
    };
    const leftMs = options.budgetS * 1000 - (performance.now() - startMs);
    if (leftMs < 1000) {
      results.push({ ...base, skipped: `time budget of ${options.budgetS} s used up` });
      console.error(`  ${c.id}${tag}: skipped (budget)`);
      continue;
    }
    const child = spawnCase(c, options, leftMs, c.build);
    if (child.error) {
      results.push({ ...base, skipped: child.error });
      console.error(`  ${c.id}${tag}: ${child.error}`);
      continue;
    }
    checksum += child.checksum;
    const caseInfo = { ...base, bytesPerOp: child.bytesPerOp, detail: child.detail };
    const summary = summarize(caseInfo, child);
    results.push({ ...caseInfo, extra: child.extra, batch: child.batch, rounds: child.rounds, summary });
    console.error(
      `  ${c.id}${tag}: ${fmtValue(caseInfo, summary.median)} (${fmtRange(caseInfo, summary)})` +
        `${c.target ? ' ' + fmtVerdict(caseInfo, summary).replace(/\*\*/g, '') : ''}` +
        `${summary.onCpuMin < 0.9 ? `  [on-CPU only ${(summary.onCpuMin * 100).toFixed(0)} % in one round: noisy]` : ''}`,
    );
  }
  const totalS = (performance.now() - startMs) / 1000;

  const noisy = results
    .filter((r) => r.summary && r.summary.onCpuMin < 0.9)
    .map((r) => r.id + (r.build === 'baseline' ? ' [baseline]' : ''));
  const md =
    `Micro-benchmarks, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ` +
    `${options.rounds} rounds of ~${options.roundMs} ms after a ${options.warmupMs} ms warm-up per case` +
    `${options.quick ? ' (--quick)' : ''}; ${totalS.toFixed(1)} s in all.\n` +
    `Machine: ${info.nproc} CPUs (${info.cpu}), ${info.memGiB} GiB RAM, ${info.kernel}; node ${info.node} ` +
    `(V8 ${info.v8}); load average at start ${info.loadavgAtStart.join(' ')}; sluice ${info.gitCommit ?? '?'}` +
    `${info.gitDirty ? ' + uncommitted changes in src/' : ''} (dist/ sha256 ${info.distSha256}).\n\n` +
    table(results) +
    '\n' +
    (noisy.length
      ? `\nNoisy (a round ran < 90 % on CPU, the process was descheduled): ${noisy.join(', ')}.\n`
      : '') +
    (baseline ? `\n${baselineLines(results, baseline)}\n` : '') +
    (results.some((r) => r.unit === 'objects' && r.summary) ? `\n${allocTables(results)}\n` : '');
  console.log(md);

  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = started
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, '')
    .replace(/^(\d{4})(\d\d)(\d\d)T/, '$1-$2-$3-');
  const base = path.join(RESULTS_DIR, `micro-${stamp}${options.quick ? '-quick' : ''}`);
  const json = {
    kind: 'sluice micro-benchmarks',
    startedAt: started.toISOString(),
    totalSeconds: totalS,
    machine: info,
    baseline,
    options,
    checksum,
    results,
  };
  fs.writeFileSync(`${base}.json`, JSON.stringify(json, null, 2) + '\n');
  fs.writeFileSync(`${base}.md`, md);
  console.error(`bench/micro: wrote ${path.relative(ROOT, base)}.json and .md`);
}

if (isMainThread) {
  main().catch((err) => {
    console.error(`bench/micro: ${err.stack ?? err}`);
    process.exit(1);
  });
} else if (workerData?.role === 'fastcgi-client') {
  fastcgiClient(workerData);
}
