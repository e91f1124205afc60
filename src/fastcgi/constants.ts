// FastCGI 1.0 protocol numbers: header layout, record types, roles, flags, statuses, management names (spec §8).

/** Value of the header's version byte; the only version there is (spec §3.3, §8). */
export const FCGI_VERSION_1 = 1;
/** Bytes in a record header; "future versions of the protocol will not reduce this number" (spec §8). */
export const FCGI_HEADER_LEN = 8;
/** Largest contentLength a header can carry: a 16-bit field (spec §3.3). */
export const FCGI_MAX_CONTENT = 65535;
/** Largest paddingLength a header can carry: an 8-bit field (spec §3.3). */
export const FCGI_MAX_PADDING = 255;
/** Request id of management records, "the null request ID" (spec §3.3, §8). */
export const FCGI_NULL_REQUEST_ID = 0;
/** Largest request id: a 16-bit field (spec §3.3). */
export const FCGI_MAX_REQUEST_ID = 65535;

// Record types (spec §8). Streams (PARAMS, STDIN, STDOUT, STDERR, DATA) end with an empty record (spec §3.3).
export const FCGI_BEGIN_REQUEST = 1;
export const FCGI_ABORT_REQUEST = 2;
export const FCGI_END_REQUEST = 3;
export const FCGI_PARAMS = 4;
export const FCGI_STDIN = 5;
export const FCGI_STDOUT = 6;
export const FCGI_STDERR = 7;
export const FCGI_DATA = 8;
export const FCGI_GET_VALUES = 9;
export const FCGI_GET_VALUES_RESULT = 10;
export const FCGI_UNKNOWN_TYPE = 11;
/** Highest type this version defines (spec §8); anything above is unknown. */
export const FCGI_MAXTYPE = FCGI_UNKNOWN_TYPE;

/** A record type defined by FastCGI 1.0. Parsers still see other numbers on the wire. */
export type RecordType =
  | typeof FCGI_BEGIN_REQUEST
  | typeof FCGI_ABORT_REQUEST
  | typeof FCGI_END_REQUEST
  | typeof FCGI_PARAMS
  | typeof FCGI_STDIN
  | typeof FCGI_STDOUT
  | typeof FCGI_STDERR
  | typeof FCGI_DATA
  | typeof FCGI_GET_VALUES
  | typeof FCGI_GET_VALUES_RESULT
  | typeof FCGI_UNKNOWN_TYPE;

/** Record types that form streams ended by an empty record (spec §3.3, appendix A). */
export type StreamType =
  typeof FCGI_PARAMS | typeof FCGI_STDIN | typeof FCGI_STDOUT | typeof FCGI_STDERR | typeof FCGI_DATA;

/** The two byte streams an application writes (spec §5.3). */
export type OutputStreamType = typeof FCGI_STDOUT | typeof FCGI_STDERR;

/** Spec names of the record types, indexed by type number, for messages and logs. */
export const RECORD_TYPE_NAMES: readonly string[] = Object.freeze([
  'FCGI_TYPE_0',
  'FCGI_BEGIN_REQUEST',
  'FCGI_ABORT_REQUEST',
  'FCGI_END_REQUEST',
  'FCGI_PARAMS',
  'FCGI_STDIN',
  'FCGI_STDOUT',
  'FCGI_STDERR',
  'FCGI_DATA',
  'FCGI_GET_VALUES',
  'FCGI_GET_VALUES_RESULT',
  'FCGI_UNKNOWN_TYPE',
]);

/** The spec name of a record type, or `FCGI_TYPE_<n>` for a number this version does not define. */
export function recordTypeName(type: number): string {
  return RECORD_TYPE_NAMES[type] ?? `FCGI_TYPE_${type}`;
}

// Roles, the role field of FCGI_BeginRequestBody (spec §5.1, §6).
export const FCGI_RESPONDER = 1;
export const FCGI_AUTHORIZER = 2;
export const FCGI_FILTER = 3;

/** A role defined by FastCGI 1.0. A BEGIN_REQUEST may name any 16-bit number (answer FCGI_UNKNOWN_ROLE). */
export type Role = typeof FCGI_RESPONDER | typeof FCGI_AUTHORIZER | typeof FCGI_FILTER;

/** Mask for the flags byte of FCGI_BeginRequestBody: 0 means the application closes after the response (spec §5.1). */
export const FCGI_KEEP_CONN = 1;

// protocolStatus of FCGI_EndRequestBody (spec §5.5).
export const FCGI_REQUEST_COMPLETE = 0;
export const FCGI_CANT_MPX_CONN = 1;
export const FCGI_OVERLOADED = 2;
export const FCGI_UNKNOWN_ROLE = 3;

export type ProtocolStatus =
  | typeof FCGI_REQUEST_COMPLETE
  | typeof FCGI_CANT_MPX_CONN
  | typeof FCGI_OVERLOADED
  | typeof FCGI_UNKNOWN_ROLE;

// Variable names for FCGI_GET_VALUES / FCGI_GET_VALUES_RESULT (spec §4.1).
export const FCGI_MAX_CONNS = 'FCGI_MAX_CONNS';
export const FCGI_MAX_REQS = 'FCGI_MAX_REQS';
export const FCGI_MPXS_CONNS = 'FCGI_MPXS_CONNS';

export type ManagementVariable = typeof FCGI_MAX_CONNS | typeof FCGI_MAX_REQS | typeof FCGI_MPXS_CONNS;

// Fixed body sizes (spec §5.1, §5.5, §4.2): all three bodies are 8 bytes including their reserved bytes.
export const FCGI_BEGIN_REQUEST_BODY_LEN = 8;
export const FCGI_END_REQUEST_BODY_LEN = 8;
export const FCGI_UNKNOWN_TYPE_BODY_LEN = 8;
