// SCGI protocol errors: one stable code per way a front end can break the netstring or its headers.
import { ProtocolError } from '../errors';

/** Stable codes of {@link ScgiProtocolError}; logs and tests key on these, never on the message. */
export type ScgiErrorCode =
  /** The netstring length is empty, has a non-digit or a leading zero, or has more digits than any length could need. */
  | 'ERR_SCGI_BAD_LENGTH'
  /** The netstring length exceeds `maxHeaderBytes`; caught while its digits arrive, before the block is buffered. */
  | 'ERR_SCGI_HEADER_TOO_LARGE'
  /** The byte after the header block is not `,`. */
  | 'ERR_SCGI_MISSING_COMMA'
  /** The header block is not an even number of NUL-terminated strings. */
  | 'ERR_SCGI_ODD_FIELDS'
  /** A header name is empty. */
  | 'ERR_SCGI_EMPTY_NAME'
  /** No CONTENT_LENGTH header at all (an empty block included). */
  | 'ERR_SCGI_CONTENT_LENGTH_MISSING'
  /** CONTENT_LENGTH is present but not the first header. */
  | 'ERR_SCGI_CONTENT_LENGTH_NOT_FIRST'
  /** CONTENT_LENGTH is empty, not only ASCII digits, or beyond what a Number holds exactly. */
  | 'ERR_SCGI_CONTENT_LENGTH_INVALID'
  /** CONTENT_LENGTH is sent more than once (the body length would be ambiguous). */
  | 'ERR_SCGI_CONTENT_LENGTH_DUPLICATE'
  /** The connection ended before the header block and its comma were complete. */
  | 'ERR_SCGI_TRUNCATED'
  /** The connection ended before CONTENT_LENGTH body bytes arrived; the request body fails with this. */
  | 'ERR_SCGI_BODY_TRUNCATED';

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
