// `sluice bridge`: one CGI request from the environment and stdin, forwarded to a FastCGI or SCGI server.
// Loaded by bin/sluice without the rest of the CLI: it runs once per request, so start-up is its cost.
import type { Readable, Writable } from 'node:stream';
import { UsageError } from '../errors';
import { ClientError } from '../client/errors';
import { cgiExchange } from '../client/request';
import { BRIDGE_HELP, parseBridgeArgs } from './args';
import { cgiVariablesFrom } from './env-filter';

export interface BridgeIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Called only for a request with a body: creating process.stdin costs start-up time. */
  readonly stdin: () => Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/** What the bridge answers itself when it cannot forward, as CGI output. */
export function errorResponse(status: number, reason: string, text: string): Buffer {
  const body = `${status} ${reason}: ${text}\n`;
  return Buffer.from(
    `Status: ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    'latin1',
  );
}

/** The response for a request that could not be forwarded (RFC 9110 §15.6.3, §15.6.5, §15.5.12). */
export function failureResponse(error: unknown): Buffer {
  if (error instanceof ClientError) {
    switch (error.code) {
      case 'ERR_CLIENT_TIMEOUT':
        return errorResponse(504, 'Gateway Timeout', 'the application server did not answer in time');
      case 'ERR_CLIENT_LENGTH_REQUIRED':
        return errorResponse(411, 'Length Required', 'send a Content-Length with the body');
      case 'ERR_CLIENT_BODY':
        return errorResponse(400, 'Bad Request', 'the request body could not be read');
      case 'ERR_CLIENT_CONNECT':
        return errorResponse(502, 'Bad Gateway', 'the application server is not reachable');
      default:
        return errorResponse(502, 'Bad Gateway', 'the application server sent no valid response');
    }
  }
  return errorResponse(500, 'Internal Server Error', 'the gateway is misconfigured');
}

/**
 * RFC 3875 §4.1.2: a body comes with CONTENT_LENGTH; a chunked upload (which CGI hosts pass on
 * without a length) is announced by its Transfer-Encoding header.
 */
export function hasBody(env: Readonly<Record<string, string | undefined>>): boolean {
  const length = env.CONTENT_LENGTH;
  if (length !== undefined && length !== '') return length !== '0';
  return env.HTTP_TRANSFER_ENCODING !== undefined && env.HTTP_TRANSFER_ENCODING !== '';
}

function flushed(stream: Writable): Promise<void> {
  return new Promise((resolve) => stream.write(Buffer.alloc(0), () => resolve()));
}

/** Runs one bridged request and resolves with the exit code. */
export async function runBridge(argv: readonly string[], io: BridgeIo): Promise<number> {
  const say = (message: string): void => void io.stderr.write(`sluice bridge: ${message}\n`);
  let args;
  try {
    args = parseBridgeArgs(argv, io.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    say(error.message);
    // Under a CGI host the client still deserves a response, not the host's "malformed header".
    if (io.env.GATEWAY_INTERFACE !== undefined) io.stdout.write(failureResponse(error));
    await flushed(io.stdout);
    return 2;
  }
  if (args.help) {
    io.stdout.write(BRIDGE_HELP);
    await flushed(io.stdout);
    return 0;
  }

  let output;
  try {
    output = cgiExchange(
      args.protocol,
      { params: cgiVariablesFrom(io.env, args.pass), body: hasBody(io.env) ? io.stdin() : undefined },
      {
        address: args.connect,
        timeoutMs: args.timeoutMs,
        maxSpoolBytes: args.maxSpoolBytes,
        onStderr: (chunk) => void io.stderr.write(chunk),
      },
    );
  } catch (error) {
    // A bad --connect address: the configuration is wrong, not the request.
    say((error as Error).message);
    io.stdout.write(failureResponse(error));
    await flushed(io.stdout);
    return 2;
  }

  const source = output;
  let started = false;
  const code = await new Promise<number>((resolve) => {
    source.on('data', (chunk: Buffer) => {
      started = true;
      if (!io.stdout.write(chunk)) {
        source.pause();
        io.stdout.once('drain', () => source.resume());
      }
    });
    source.once('end', () => resolve(0));
    source.once('error', (error: Error) => {
      say(`${args.protocol} ${args.connect}: ${error.message}`);
      if (started) {
        resolve(1);
        return;
      }
      io.stdout.write(failureResponse(error));
      resolve(0);
    });
    // The web server stopped reading (its client went away): stop the request at the server too.
    io.stdout.once('error', () => {
      source.destroy();
      resolve(1);
    });
  });
  await flushed(io.stdout);
  return code;
}

/** Entry point used by bin/sluice: the arguments after `bridge`. */
export function main(argv: readonly string[]): Promise<number> {
  return runBridge(argv, {
    env: process.env,
    stdin: () => process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
  });
}
