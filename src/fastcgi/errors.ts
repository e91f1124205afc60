// FastCGI protocol errors: a stable code each, and whether they end the connection or only one request.

import { ProtocolError, type FastCgiErrorCode } from '../errors';

export type { FastCgiErrorCode };

/**
 * What each code means and what the connection does next; the source for docs/errors.md.
 * "Fatal" errors close the connection; the others end one request (END_REQUEST) and leave the rest alone.
 */
export const FASTCGI_ERROR_CODES: Readonly<Record<FastCgiErrorCode, string>> = Object.freeze({
  ERR_FCGI_BAD_VERSION: 'Fatal. A record header whose version byte is not FCGI_VERSION_1 (spec §3.3).',
  ERR_FCGI_NOT_FASTCGI:
    'Fatal. The first bytes of the connection look like HTTP, SCGI or TLS, not FastCGI: a front end pointed at the wrong port or protocol.',
  ERR_FCGI_TRUNCATED: 'Fatal. The connection ended in the middle of a record.',
  ERR_FCGI_BAD_BEGIN_LENGTH: 'Fatal. A BEGIN_REQUEST whose body is not 8 bytes (spec §5.1).',
  ERR_FCGI_DUPLICATE_REQUEST:
    'Fatal. A BEGIN_REQUEST for a request id that is still active (spec §3.3): the two sides disagree about request state.',
  ERR_FCGI_PARAMS_TOO_LARGE: 'Ends the request (431). Its PARAMS stream would exceed limits.maxParamsBytes.',
  ERR_FCGI_BAD_PAIR:
    'Ends the request (400); fatal in a GET_VALUES record. A name-value pair runs past the end of the data (spec §3.4).',
  ERR_FCGI_STDIN_BEFORE_PARAMS_END:
    'Ends the request (400). STDIN arrived before the empty PARAMS record (spec §6.2).',
  ERR_FCGI_DATA_BEFORE_PARAMS_END:
    'Ends the request (400). DATA arrived before the empty PARAMS record (spec §6.4).',
  ERR_FCGI_STREAM_AFTER_END:
    'Ends the request (400). A non-empty PARAMS, STDIN or DATA record after that stream ended (spec §3.3).',
  ERR_FCGI_MANAGEMENT_ON_REQUEST_ID:
    'Ends the request (400). A management record type (GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE) on a non-null request id (spec appendix A).',
  ERR_FCGI_UNEXPECTED_TYPE:
    'Ends the request (400). A record type a web server never sends (END_REQUEST, STDOUT, STDERR) or one this version does not define, on an active request id.',
});

export interface FastCgiErrorOptions {
  /** The request this error ends; leave undefined for an error fatal to the connection. */
  requestId?: number;
  /** HTTP status to answer the request with, when output is still possible. */
  status?: number;
  cause?: unknown;
}

/**
 * A front end sent FastCGI bytes the protocol does not allow.
 * `fatal` errors leave only closing the connection; the others carry the `requestId` they end,
 * and the connection answers that request with END_REQUEST while its other requests carry on.
 */
export class FastCgiProtocolError extends ProtocolError {
  declare readonly code: FastCgiErrorCode;
  /** True when the connection must close; false when only {@link requestId} ends. */
  readonly fatal: boolean;
  /** The request this error ends; undefined for a fatal error. */
  readonly requestId: number | undefined;

  constructor(code: FastCgiErrorCode, message: string, options: FastCgiErrorOptions = {}) {
    super(code, message, options.status, options.cause === undefined ? undefined : { cause: options.cause });
    this.requestId = options.requestId;
    this.fatal = options.requestId === undefined;
  }
}
