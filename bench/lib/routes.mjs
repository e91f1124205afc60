// The routes every benchmark target serves, and the sizes the apps and peers share. The PHP, Go and
// Python peers cannot import this file; they repeat these numbers and are checked against it at start.

export const HELLO = 'Hello, world!\n';
export const MIB = 1024 * 1024;
/** Chunk size of streamed bodies (/down, and how peers read request bodies). */
export const CHUNK_BYTES = 64 * 1024;

// The `item` route of the route apps: POST /items/42 with ITEM_BODY (JSON, 1,024 bytes), answered
// with ITEM_RESPONSE (the id from the path and the name from the body) and two headers set by
// middlewares: x-request-id and x-response-time.
export const ITEM_ID = '42';
const ITEM_NAME = 'sluice-bench-item';
const itemBody = (pad) =>
  JSON.stringify({
    name: ITEM_NAME,
    price: 1999,
    currency: 'EUR',
    tags: ['alpha', 'beta', 'gamma', 'delta'],
    dimensions: { width: 120, height: 80, depth: 45, unit: 'mm' },
    stock: Array.from({ length: 12 }, (_, i) => ({ warehouse: `wh-${i}`, count: (i * 37) % 101 })),
    description: 'x'.repeat(pad),
  });
/** 1,024 bytes of JSON: the fields above, the description padding it to size. */
export const ITEM_BODY = itemBody(1024 - itemBody(0).length);
export const ITEM_RESPONSE = JSON.stringify({ id: ITEM_ID, name: ITEM_NAME });
export const ITEM_HEADERS = ['x-request-id', 'x-response-time'];

/**
 * id: the name for --routes; path and method as wrk sends them; requestBytes: the POST body (a file of
 * that many bytes generated once per run); expect: what the check before the runs wants back.
 */
export const ROUTES = [
  {
    id: 'hello',
    label: 'hello (14 B text/plain)',
    method: 'GET',
    path: '/',
    requestBytes: 0,
    expect: 'hello',
  },
  { id: '1m', label: '1 MiB response', method: 'GET', path: '/1m', requestBytes: 0, expect: 'size' },
  {
    id: 'echo',
    label: '1 MiB POST echoed',
    method: 'POST',
    path: '/echo',
    requestBytes: MIB,
    expect: 'echo',
  },
  {
    id: 'upload',
    label: '10 MiB upload',
    method: 'POST',
    path: '/upload',
    requestBytes: 10 * MIB,
    expect: 'count',
  },
  {
    // Served only by the route apps of --app (bench/apps/*-route.mjs), not by the benchmark's gateway
    // app and peers: a route parameter, a ~1 KB JSON body for the framework's parser, two middlewares.
    id: 'item',
    label: 'POST of ~1 KB JSON to a route with a parameter',
    method: 'POST',
    path: `/items/${ITEM_ID}`,
    requestBytes: 0, // set below, from ITEM_BODY
    contentType: 'application/json',
    appOnly: true,
    expect: 'item',
  },
];

ROUTES.find((r) => r.id === 'item').requestBytes = Buffer.byteLength(ITEM_BODY);

/** The body a route POSTs: ITEM_BODY for `item`, patternBytes of its size for the others. */
export const requestBodyOf = (route) =>
  route.id === 'item' ? Buffer.from(ITEM_BODY) : patternBytes(route.requestBytes);

/** Deterministic, non-repeating-per-chunk bytes, so an echo that reorders or drops a chunk is caught. */
export function patternBytes(size) {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) bytes.writeUInt32LE((Math.imul(i, 2654435761) ^ i) >>> 0, i);
  return bytes;
}
