// An SCGI client: one request per connection, the netstring header block, the body, then the response until close.
import { serializeScgiHeaders } from '../scgi/serializer';
import { readCgiResponse } from './response';
import { ClientError } from './errors';
import { bytesOf, declaredLength, pumpBody, startExchange, writeParts, type CgiOutput } from './exchange';
import type { CgiRequest, ClientResponse, ScgiOptions } from './types';

/** Default for {@link ScgiOptions.maxSpoolBytes}. */
export const DEFAULT_MAX_SPOOL_BYTES = 16 * 1024 * 1024;

type Body = NonNullable<CgiRequest['body']>;

/** Reads a body of unknown length into memory, up to `max` bytes (SCGI wants the length first). */
async function spool(body: Exclude<Body, Uint8Array>, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const piece of body as AsyncIterable<Uint8Array | string>) {
      const chunk = bytesOf(piece);
      total += chunk.length;
      if (total > max) {
        throw new ClientError(
          'ERR_CLIENT_LENGTH_REQUIRED',
          `a request body without CONTENT_LENGTH exceeds ${max} bytes, the most spooled for SCGI`,
        );
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof ClientError) throw error;
    throw new ClientError('ERR_CLIENT_BODY', `reading the request body failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return Buffer.concat(chunks, total);
}

/**
 * Sends one request and returns the server's raw CGI output as a stream, which ends when the server
 * closes the connection (SCGI protocol.txt). A stream body with a CONTENT_LENGTH streams exactly that
 * many bytes; without one it is spooled first, up to `maxSpoolBytes`.
 */
export function scgiExchange(request: CgiRequest, options: ScgiOptions): CgiOutput {
  const params = Array.from(request.params, ([name, value]): [string, string] => [name, value]);
  return startExchange(options, async (output, open) => {
    const declared = declaredLength(params);
    let bytes = request.body instanceof Uint8Array ? bytesOf(request.body) : undefined;
    const stream = request.body instanceof Uint8Array ? undefined : request.body;
    if (stream !== undefined && declared === undefined) {
      bytes = await spool(stream, options.maxSpoolBytes ?? DEFAULT_MAX_SPOOL_BYTES);
    }
    const length = declared ?? bytes?.length ?? 0;
    if (bytes !== undefined && bytes.length !== length) {
      throw new ClientError(
        'ERR_CLIENT_BODY',
        `CONTENT_LENGTH ${length} but a body of ${bytes.length} bytes`,
      );
    }
    if (bytes === undefined && stream === undefined && length !== 0) {
      throw new ClientError('ERR_CLIENT_BODY', `CONTENT_LENGTH ${length} but no body`);
    }

    const socket = await open();
    socket.on('data', (chunk: Buffer) => output.deliver(chunk));
    socket.on('end', () => output.finish());
    socket.on('close', () =>
      output.fail(new ClientError('ERR_CLIENT_CLOSED', 'the connection closed before the response ended')),
    );
    const head = serializeScgiHeaders(params, length);
    if (stream === undefined || bytes !== undefined) {
      await writeParts(socket, bytes === undefined || bytes.length === 0 ? [head] : [head, bytes]);
      return;
    }
    await writeParts(socket, [head]);
    const sent = await pumpBody(
      socket,
      stream,
      (chunk) => [chunk],
      () => output.done,
      length,
    );
    if (sent < length && !output.done) {
      throw new ClientError('ERR_CLIENT_BODY', `the request body ended after ${sent} of ${length} bytes`);
    }
  });
}

/** Sends one request and resolves once the response head arrived; the body streams on. */
export function scgiRequest(request: CgiRequest, options: ScgiOptions): Promise<ClientResponse> {
  return readCgiResponse(scgiExchange(request, options), options.maxHeadBytes);
}
