// SCGI protocol errors: one stable code per way a front end can break the netstring or its headers.
import { ProtocolError, type ScgiErrorCode } from '../errors';

export type { ScgiErrorCode };

/**
 * The HTTP status each code answers with. Undefined for the two end-of-input codes: the front end
 * stopped sending before the request was whole, so there is no request to answer and closing is
 * all that is left (a front end that half-closes after a complete request gets no error at all).
 */
export const SCGI_ERROR_STATUS: Readonly<Record<ScgiErrorCode, 400 | 413 | undefined>> = Object.freeze({
  ERR_SCGI_BAD_LENGTH: 400,
  ERR_SCGI_HEADER_TOO_LARGE: 413,
  ERR_SCGI_MISSING_COMMA: 400,
  ERR_SCGI_ODD_FIELDS: 400,
  ERR_SCGI_EMPTY_NAME: 400,
  ERR_SCGI_CONTENT_LENGTH_MISSING: 400,
  ERR_SCGI_CONTENT_LENGTH_NOT_FIRST: 400,
  ERR_SCGI_CONTENT_LENGTH_INVALID: 400,
  ERR_SCGI_CONTENT_LENGTH_DUPLICATE: 400,
  ERR_SCGI_TRUNCATED: undefined,
  ERR_SCGI_BODY_TRUNCATED: undefined,
});

/** A front end sent an SCGI request the protocol does not allow; `status` comes from {@link SCGI_ERROR_STATUS}. */
export class ScgiProtocolError extends ProtocolError {
  declare readonly code: ScgiErrorCode;

  constructor(code: ScgiErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, SCGI_ERROR_STATUS[code], options);
  }
}
