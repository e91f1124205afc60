// `sluice request`: a curl for FastCGI and SCGI servers. Builds the CGI variables, sends, prints the response.
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UsageError } from '../errors';
import { requestEnviron } from '../client/environ';
import { cgiRequest } from '../client/request';
import type { CgiRequest } from '../client/types';
import { CLIENT_EXIT, clientFailure, parseAssignment, resolveTarget, type TargetFlags } from './target';

export interface RequestFlags extends TargetFlags {
  request?: string;
  header: string[];
  data?: string;
  env: string[];
  include?: boolean;
  timeout: number;
}

export interface CommandIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: Readable;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** `Name: value` → [Name, value]. */
export function parseHeaderLine(line: string): [string, string] {
  const colon = line.indexOf(':');
  if (colon <= 0)
    throw new UsageError('ERR_USAGE_HEADER', `expected 'Name: value', got ${JSON.stringify(line)}`);
  return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
}

interface Body {
  readonly body: NonNullable<CgiRequest['body']>;
  readonly length: number;
}

/** `-d DATA`, `-d @file` (streamed) or `-d @-` (stdin, read whole to learn its length), as curl takes them. */
async function readData(data: string | undefined, stdin: Readable): Promise<Body | undefined> {
  if (data === undefined) return undefined;
  if (data === '@-') {
    const bytes = Buffer.concat(await stdin.toArray());
    return { body: bytes, length: bytes.length };
  }
  if (data.startsWith('@')) {
    const file = data.slice(1);
    let size: number;
    try {
      size = (await fs.promises.stat(file)).size;
    } catch (error) {
      throw new UsageError('ERR_USAGE_DATA', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`);
    }
    return { body: fs.createReadStream(file), length: size };
  }
  const bytes = Buffer.from(data, 'utf8');
  return { body: bytes, length: bytes.length };
}

/** The CGI head as `-i` prints it: the Status line, the headers, a blank line. */
export function formatHead(
  status: number,
  reason: string,
  headers: ReadonlyArray<readonly [string, string]>,
): string {
  let text = `Status: ${status}${reason === '' ? '' : ' ' + reason}\r\n`;
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return text + '\r\n';
}

/** Runs `sluice request` and resolves with the exit code. */
export async function runRequest(target: string, flags: RequestFlags, io: CommandIo): Promise<number> {
  const server = resolveTarget(flags, io.env);
  const headers = flags.header.map(parseHeaderLine);
  const env = flags.env.map(parseAssignment);
  const data = await readData(flags.data, io.stdin);
  // curl's default for -d, which PHP and form parsers expect.
  if (data !== undefined && !headers.some(([name]) => name.toLowerCase() === 'content-type')) {
    headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
  }
  const params = requestEnviron({
    method: flags.request ?? (data === undefined ? 'GET' : 'POST'),
    target,
    headers,
    contentLength: data?.length,
    env,
  });
  try {
    const response = await cgiRequest(
      server.protocol,
      { params, body: data?.body },
      {
        address: server.address,
        timeoutMs: flags.timeout * 1000,
        onStderr: (chunk) => void io.stderr.write(chunk),
      },
    );
    if (flags.include) io.stdout.write(formatHead(response.status, response.reason, response.headers));
    await pipeline(response.body, io.stdout, { end: false });
    if (response.status >= 500) {
      io.stderr.write(
        `sluice: ${server.label}: the application answered ${response.status} ${response.reason}\n`,
      );
      return CLIENT_EXIT.SERVER_ERROR;
    }
    return 0;
  } catch (error) {
    // Whoever reads our output stopped (`| head`): what they wanted has been written.
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') return 0;
    return clientFailure(error, server, io.stderr);
  }
}
