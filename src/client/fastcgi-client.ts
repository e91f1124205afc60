// A FastCGI client: one RESPONDER request per connection (what a web server sends), and GET_VALUES.
import {
  FCGI_CANT_MPX_CONN,
  FCGI_MAX_CONNS,
  FCGI_MAX_REQS,
  FCGI_MPXS_CONNS,
  FCGI_OVERLOADED,
  FCGI_REQUEST_COMPLETE,
  FCGI_RESPONDER,
  FCGI_STDIN,
  FCGI_UNKNOWN_ROLE,
  FCGI_KEEP_CONN,
} from '../fastcgi/constants';
import { ReplyParser } from '../fastcgi/reply-parser';
import {
  beginRequestRecord,
  getValuesRecord,
  paramsRecords,
  stdinRecords,
  streamEndRecord,
} from '../fastcgi/writer';
import { readCgiResponse } from './response';
import { ClientError } from './errors';
import { bytesOf, pumpBody, startExchange, writeParts, type CgiOutput } from './exchange';
import type { CgiRequest, ClientOptions, ClientResponse, FastCgiOptions } from './types';

/** The one request id this client uses, like nginx, Apache, lighttpd and cgi-fcgi. */
const REQUEST_ID = 1;

const REFUSALS: Readonly<Record<number, string>> = {
  [FCGI_CANT_MPX_CONN]: 'FCGI_CANT_MPX_CONN',
  [FCGI_OVERLOADED]: 'FCGI_OVERLOADED',
  [FCGI_UNKNOWN_ROLE]: 'FCGI_UNKNOWN_ROLE',
};

export interface RequestHeadOptions {
  role?: number;
  /** FCGI_KEEP_CONN: whether the application should keep the connection open afterwards (default false). */
  keepConn?: boolean;
  /** Largest PARAMS record content; small values make pairs straddle records (default 65535). */
  paramsMaxContent?: number;
}

/** BEGIN_REQUEST and the whole PARAMS stream of request `id`: everything before STDIN (spec §5.1, §5.2). */
export function requestHeadRecords(
  id: number,
  params: Iterable<readonly [string, string]>,
  options: RequestHeadOptions = {},
): Buffer[] {
  const flags = options.keepConn === true ? FCGI_KEEP_CONN : 0;
  return [
    beginRequestRecord(id, options.role ?? FCGI_RESPONDER, flags),
    ...paramsRecords(id, params, options.paramsMaxContent),
  ];
}

/**
 * Sends one request and returns the application's raw CGI output (its STDOUT) as a stream. The body
 * streams as STDIN records while the response is read; a stream body without CONTENT_LENGTH is sent
 * as is and ended by the empty STDIN record, as nginx does for chunked uploads.
 */
export function fastcgiExchange(request: CgiRequest, options: FastCgiOptions): CgiOutput {
  const params = Array.from(request.params, ([name, value]): [string, string] => [name, value]);
  const body = request.body;
  const bytes = body instanceof Uint8Array ? bytesOf(body) : undefined;
  const stream = body instanceof Uint8Array ? undefined : body;
  if (bytes !== undefined && !params.some(([name, value]) => name === 'CONTENT_LENGTH' && value !== '')) {
    params.push(['CONTENT_LENGTH', String(bytes.length)]);
  }
  return startExchange(options, async (output, open) => {
    const socket = await open();
    let sawStdout = false;
    const parser = new ReplyParser({
      stdout(id, chunk) {
        if (id !== REQUEST_ID) return;
        sawStdout = true;
        output.deliver(chunk);
      },
      stdoutEnd() {
        // END_REQUEST, not the empty STDOUT, completes the request (spec §5.5).
      },
      stderr(id, chunk) {
        if (id === REQUEST_ID) options.onStderr?.(chunk);
      },
      endRequest(id, appStatus, protocolStatus) {
        if (id !== REQUEST_ID) return;
        if (protocolStatus !== FCGI_REQUEST_COMPLETE && !sawStdout) {
          const name = REFUSALS[protocolStatus] ?? `protocolStatus ${protocolStatus}`;
          output.fail(new ClientError('ERR_CLIENT_REFUSED', `the application refused the request: ${name}`));
          return;
        }
        options.onEnd?.({ appStatus, protocolStatus });
        output.finish();
      },
      getValuesResult() {},
      unknownType() {},
      error(error) {
        output.fail(
          new ClientError('ERR_CLIENT_BAD_REPLY', `not a FastCGI reply: ${error.message}`, { cause: error }),
        );
      },
    });
    socket.on('data', (chunk: Buffer) => parser.push(chunk));
    socket.on('close', () =>
      output.fail(
        new ClientError('ERR_CLIENT_CLOSED', 'the application closed the connection before END_REQUEST'),
      ),
    );
    const head = requestHeadRecords(REQUEST_ID, params);
    if (bytes !== undefined) {
      await writeParts(socket, [...head, ...stdinRecords(REQUEST_ID, bytes)]);
    } else {
      await writeParts(socket, head);
      if (stream !== undefined) {
        await pumpBody(
          socket,
          stream,
          (chunk) => stdinRecords(REQUEST_ID, chunk),
          () => output.done,
        );
      }
    }
    if (!output.done) await writeParts(socket, [streamEndRecord(FCGI_STDIN, REQUEST_ID)]);
  });
}

/** Sends one request and resolves once the response head arrived; the body streams on. */
export function fastcgiRequest(request: CgiRequest, options: FastCgiOptions): Promise<ClientResponse> {
  return readCgiResponse(fastcgiExchange(request, options), options.maxHeadBytes);
}

/** The variables FastCGI 1.0 defines for GET_VALUES (spec §4.1). */
export const MANAGEMENT_VARIABLES: readonly string[] = [FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS];

/**
 * Asks the application for management variables with GET_VALUES on the null id (spec §4.1) and
 * resolves with what it answered: only names it understands, possibly none. An application that
 * answers UNKNOWN_TYPE (spec §4.2) resolves with `{}`: it is alive and speaks FastCGI.
 */
export function fastcgiGetValues(
  options: ClientOptions,
  names: readonly string[] = MANAGEMENT_VARIABLES,
): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const values: Record<string, string> = {};
    const output = startExchange(options, async (out, open) => {
      const socket = await open();
      const parser = new ReplyParser({
        stdout() {},
        stdoutEnd() {},
        stderr() {},
        endRequest() {},
        getValuesResult(pairs) {
          for (let i = 0; i + 1 < pairs.length; i += 2) values[pairs[i]] = pairs[i + 1];
          out.finish();
        },
        unknownType() {
          out.finish();
        },
        error(error) {
          out.fail(
            new ClientError('ERR_CLIENT_BAD_REPLY', `not a FastCGI reply: ${error.message}`, {
              cause: error,
            }),
          );
        },
      });
      socket.on('data', (chunk: Buffer) => parser.push(chunk));
      socket.on('close', () =>
        out.fail(
          new ClientError(
            'ERR_CLIENT_CLOSED',
            'the application closed the connection without answering GET_VALUES',
          ),
        ),
      );
      await writeParts(socket, [getValuesRecord(names)]);
    });
    output.on('error', reject);
    output.on('end', () => resolve(values));
    output.resume();
  });
}
