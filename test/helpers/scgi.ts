// Raw SCGI for tests: send a request over a socket, read everything until close, split the CGI response.
import net from 'node:net';
import { serializeScgiHeaders } from '../../src/scgi/serializer';

export interface CgiResponse {
  status: number;
  reason: string;
  headers: Array<[string, string]>;
  body: Buffer;
  /** The bytes as received. */
  raw: Buffer;
}

/** Splits a CGI response (Status line, headers, blank line, body). */
export function parseCgiResponse(raw: Buffer): CgiResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1)
    throw new Error(`no end of head in ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Array<[string, string]> = lines.map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  const statusLine = headers.find(([name]) => name === 'Status')?.[1] ?? '200 OK';
  return {
    status: Number(statusLine.slice(0, 3)),
    reason: statusLine.slice(4),
    headers: headers.filter(([name]) => name !== 'Status'),
    body: raw.subarray(end + 4),
    raw,
  };
}

export type Connect = { path: string } | { host: string; port: number };

/** Parses `unix:/p` or `host:port` as the daemon logs them. */
export function connectOptions(address: string): Connect {
  if (address.startsWith('unix:')) return { path: address.slice(5) };
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(address.slice(colon + 1)) };
}

/** Standard variables of a GET to `uri`, as nginx's scgi_params would send them. */
export function requestVariables(
  method: string,
  uri: string,
  extra: ReadonlyArray<readonly [string, string]> = [],
): Array<[string, string]> {
  const query = uri.indexOf('?');
  return [
    ['REQUEST_METHOD', method],
    ['REQUEST_URI', uri],
    ['QUERY_STRING', query === -1 ? '' : uri.slice(query + 1)],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['SERVER_NAME', 'localhost'],
    ['SERVER_PORT', '80'],
    ['REMOTE_ADDR', '127.0.0.1'],
    ...extra.map(([name, value]): [string, string] => [name, value]),
  ];
}

/** Sends raw bytes and collects everything the daemon writes until it closes the connection. */
export function exchange(address: string, bytes: Buffer | Buffer[], timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(connectOptions(address));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got ${Buffer.concat(chunks).length} bytes`));
    }, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    for (const part of Array.isArray(bytes) ? bytes : [bytes]) socket.write(part);
  });
}

/** One SCGI request: variables (CONTENT_LENGTH/SCGI added), body, the parsed response. */
export async function scgiRequest(
  address: string,
  vars: Array<[string, string]>,
  body: Buffer = Buffer.alloc(0),
  timeoutMs?: number,
): Promise<CgiResponse> {
  const raw = await exchange(address, [serializeScgiHeaders(vars, body.length), body], timeoutMs);
  return parseCgiResponse(raw);
}
