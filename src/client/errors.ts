// Client-side failures: a stable code each, and what kind of failure it is, so a CLI can pick an exit code.
import { SluiceError, type ClientErrorCode } from '../errors';

export type { ClientErrorCode };

/** What went wrong, for exit codes and 502-or-504 answers. */
export type ClientErrorKind = 'connect' | 'timeout' | 'protocol' | 'request';

/** The kind of failure each code is; its keys are the client's part of docs/errors.md. */
export const CLIENT_ERROR_KINDS: Readonly<Record<ClientErrorCode, ClientErrorKind>> = Object.freeze({
  ERR_CLIENT_CONNECT: 'connect',
  ERR_CLIENT_TIMEOUT: 'timeout',
  ERR_CLIENT_CLOSED: 'protocol',
  ERR_CLIENT_BAD_REPLY: 'protocol',
  ERR_CLIENT_BAD_HEAD: 'protocol',
  ERR_CLIENT_HEAD_TOO_LARGE: 'protocol',
  ERR_CLIENT_REFUSED: 'protocol',
  ERR_CLIENT_LENGTH_REQUIRED: 'request',
  ERR_CLIENT_BODY: 'request',
  ERR_CLIENT_ABORTED: 'request',
});

/** A FastCGI or SCGI request could not be completed. */
export class ClientError extends SluiceError {
  declare readonly code: ClientErrorCode;

  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }

  get kind(): ClientErrorKind {
    return CLIENT_ERROR_KINDS[this.code];
  }
}
