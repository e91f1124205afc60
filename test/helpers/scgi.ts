// SCGI for tests: raw bytes over a socket for malformed input, whole requests through the client library.
import net from 'node:net';
import { CgiHeadParser } from '../../src/client/cgi-head';
import { netConnectOptions } from '../../src/client/connect';
import { scgiExchange } from '../../src/client/scgi-client';

export interface CgiResponse {
  status: number;
  reason: string;
  headers: Array<[string, string]>;
  body: Buffer;
  /** The bytes as received. */
  raw: Buffer;
}

/** Splits a CGI response (Status line, headers, blank line, body) with the client's head parser. */
export function parseCgiResponse(raw: Buffer): CgiResponse {
  const parsed = new CgiHeadParser(raw.length + 1).push(raw);
  if (parsed === undefined)
    throw new Error(`no end of head in ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  return {
    status: parsed.head.status,
    reason: parsed.head.reason,
    headers: parsed.head.headers.map(([name, value]): [string, string] => [name, value]),
    body: parsed.rest,
    raw,
  };
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
    const socket = net.connect(netConnectOptions(address));
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

/** One SCGI request through the client library: variables (CONTENT_LENGTH/SCGI added), body, the parsed response. */
export async function scgiRequest(
  address: string,
  vars: Array<[string, string]>,
  body: Buffer = Buffer.alloc(0),
  timeoutMs?: number,
): Promise<CgiResponse> {
  const output = scgiExchange({ params: vars, body }, { address, timeoutMs });
  return parseCgiResponse(Buffer.concat(await output.toArray()));
}
