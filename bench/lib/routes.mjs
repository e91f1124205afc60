// The routes every benchmark target serves, and the sizes the apps and peers share. The PHP, Go and
// Python peers cannot import this file; they repeat these numbers and are checked against it at start.

export const HELLO = 'Hello, world!\n';
export const MIB = 1024 * 1024;
/** Chunk size of streamed bodies (/down, and how peers read request bodies). */
export const CHUNK_BYTES = 64 * 1024;

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
];

/** Deterministic, non-repeating-per-chunk bytes, so an echo that reorders or drops a chunk is caught. */
export function patternBytes(size) {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) bytes.writeUInt32LE((Math.imul(i, 2654435761) ^ i) >>> 0, i);
  return bytes;
}
