// From raw CGI output to a response: the head parsed, the body left streaming.
import type { Readable } from 'node:stream';
import { CgiHeadParser } from './cgi-head';
import { ClientError } from './errors';
import type { ClientResponse } from './types';

/**
 * Reads `output` until the head is complete and resolves with it; the body bytes stay in `output`
 * (paused), which becomes the response's body. Rejects with ERR_CLIENT_CLOSED when the output ends
 * first, or with the output's own error.
 */
export function readCgiResponse(output: Readable, maxHeadBytes?: number): Promise<ClientResponse> {
  const parser = new CgiHeadParser(maxHeadBytes);
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      output.off('data', onData);
      output.off('end', onEnd);
      output.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      let result;
      try {
        result = parser.push(chunk);
      } catch (error) {
        cleanup();
        output.destroy();
        reject(error);
        return;
      }
      if (result === undefined) return;
      cleanup();
      output.pause();
      if (result.rest.length > 0) output.unshift(result.rest);
      resolve({ ...result.head, body: output });
    };
    const onEnd = (): void => {
      cleanup();
      reject(
        new ClientError(
          'ERR_CLIENT_CLOSED',
          parser.received === 0
            ? 'the server ended the response without writing anything'
            : `the server ended the response inside its head (after ${parser.received} bytes)`,
        ),
      );
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    output.on('data', onData);
    output.once('end', onEnd);
    output.once('error', onError);
  });
}
