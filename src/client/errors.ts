// Client-side failures: a stable code each, and what kind of failure it is, so a CLI can pick an exit code.
import { SluiceError } from '../errors';

/** Stable codes of {@link ClientError}; tests and scripts key on these, never on messages. */
export type ClientErrorCode =
  /** The connection could not be made: refused, no such socket, unreachable, permission denied. */
  | 'ERR_CLIENT_CONNECT'
  /** Nothing was sent or received for the whole timeout. */
  | 'ERR_CLIENT_TIMEOUT'
  /** The server closed the connection before the response was complete. */
  | 'ERR_CLIENT_CLOSED'
  /** The server sent bytes that are not a FastCGI reply (the cause says which rule broke). */
  | 'ERR_CLIENT_BAD_REPLY'
  /** The CGI response head is malformed: a line without a colon, a bad Status, no header at all. */
  | 'ERR_CLIENT_BAD_HEAD'
  /** The CGI response head exceeds `maxHeadBytes`. */
  | 'ERR_CLIENT_HEAD_TOO_LARGE'
  /** FastCGI END_REQUEST with CANT_MPX_CONN, OVERLOADED or UNKNOWN_ROLE and no output (spec §5.5). */
  | 'ERR_CLIENT_REFUSED'
  /** SCGI needs the body's length first, and a body of unknown length exceeded `maxSpoolBytes`. */
  | 'ERR_CLIENT_LENGTH_REQUIRED'
  /** The request body could not be read, or ended before CONTENT_LENGTH bytes. */
  | 'ERR_CLIENT_BODY'
  /** The caller's AbortSignal fired. */
  | 'ERR_CLIENT_ABORTED';

/** What went wrong, for exit codes and 502-or-504 answers. */
export type ClientErrorKind = 'connect' | 'timeout' | 'protocol' | 'request';

const KINDS: Readonly<Record<ClientErrorCode, ClientErrorKind>> = Object.freeze({
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
    return KINDS[this.code];
  }
}
