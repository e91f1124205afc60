// Record builders: values in, whole records out as Buffer lists whose payloads are views, never copies (spec §3–5).
//
// Functions named `...Records` return Buffer[] (header, payload view, padding, repeated) for writev
// under cork(); functions named `...Record` build one small fixed record and return a single Buffer.
// Every buffer returned may be shared (padding, cached terminators): treat them all as read-only.

import {
  FCGI_ABORT_REQUEST,
  FCGI_BEGIN_REQUEST,
  FCGI_BEGIN_REQUEST_BODY_LEN,
  FCGI_DATA,
  FCGI_END_REQUEST,
  FCGI_END_REQUEST_BODY_LEN,
  FCGI_GET_VALUES,
  FCGI_GET_VALUES_RESULT,
  FCGI_HEADER_LEN,
  FCGI_MAX_CONTENT,
  FCGI_MAX_REQUEST_ID,
  FCGI_NULL_REQUEST_ID,
  FCGI_PARAMS,
  FCGI_REQUEST_COMPLETE,
  FCGI_RESPONDER,
  FCGI_STDERR,
  FCGI_STDIN,
  FCGI_STDOUT,
  FCGI_UNKNOWN_TYPE,
  FCGI_UNKNOWN_TYPE_BODY_LEN,
  type OutputStreamType,
  type StreamType,
} from './constants';
import { encodePairs, encodedPairsLength, writePairLength } from './pairs';
import {
  paddingFor,
  writeBeginRequestBody,
  writeEndRequestBody,
  writeHeader,
  writeUnknownTypeBody,
} from './record';

// Padding is at most 7 bytes (-len & 7); one zero buffer serves every record, as views per length.
const ZERO = Buffer.alloc(8);
const PADDING: readonly Buffer[] = Array.from({ length: 8 }, (_, n) => ZERO.subarray(0, n));

/** Throws RangeError unless `requestId` is an application id, 1–65535 (spec §3.3: 0 is management only). */
function checkApplicationId(requestId: number): void {
  if (!(requestId >= 1 && requestId <= FCGI_MAX_REQUEST_ID) || !Number.isInteger(requestId)) {
    throw new RangeError(`FastCGI application request id out of range: ${requestId}`);
  }
}

function checkMaxContent(maxContent: number): void {
  if (!(maxContent >= 1 && maxContent <= FCGI_MAX_CONTENT) || !Number.isInteger(maxContent)) {
    throw new RangeError(`maxContent must be 1–${FCGI_MAX_CONTENT}: ${maxContent}`);
  }
}

/** One record of a fixed-size body: header and body in a single 16-byte buffer. */
function fixedRecord(type: number, requestId: number, bodyLength: number): Buffer {
  const record = Buffer.allocUnsafe(FCGI_HEADER_LEN + bodyLength);
  writeHeader(record, 0, type, requestId, bodyLength, 0);
  return record;
}

/**
 * Non-empty records of stream `type` carrying `data`, split every `maxContent` bytes (65535 at most,
 * spec §3.3) with each record padded to a multiple of 8. The payloads are views of `data`, so `data` must
 * not change until written. Empty data gives no records: an empty record would end the stream, and a
 * stray one mid-response truncates it at nginx (php-src #72185); use {@link streamEndRecord} to end it.
 */
export function streamRecords(
  type: StreamType,
  requestId: number,
  data: Buffer,
  maxContent: number = FCGI_MAX_CONTENT,
): Buffer[] {
  checkApplicationId(requestId);
  checkMaxContent(maxContent);
  const total = data.length;
  if (total === 0) return [];
  const count = Math.ceil(total / maxContent);
  // One allocation holds every header; each record gets an 8-byte view of it.
  const headers = Buffer.allocUnsafe(FCGI_HEADER_LEN * count);
  const out: Buffer[] = [];
  for (let start = 0, at = 0; start < total; start += maxContent, at += FCGI_HEADER_LEN) {
    const length = Math.min(maxContent, total - start);
    const padding = paddingFor(length);
    writeHeader(headers, at, type, requestId, length, padding);
    out.push(count === 1 ? headers : headers.subarray(at, at + FCGI_HEADER_LEN));
    out.push(length === total ? data : data.subarray(start, start + length));
    if (padding !== 0) out.push(PADDING[padding]);
  }
  return out;
}

/** STDOUT (or STDERR) records carrying `data` (spec §5.3); see {@link streamRecords}. */
export function stdoutRecords(
  requestId: number,
  data: Buffer,
  type: OutputStreamType = FCGI_STDOUT,
): Buffer[] {
  return streamRecords(type, requestId, data);
}

/**
 * STDOUT records of `text` (latin1, a response head) followed by `data`. When both fit in one record,
 * as a short response does, that record is one buffer: one allocation and one copy, where encoding
 * the text, joining it with the data and framing them would take three.
 */
export function stdoutTextRecords(requestId: number, text: string, data: Buffer | null): Buffer[] {
  checkApplicationId(requestId);
  const length = text.length + (data === null ? 0 : data.length);
  if (length > FCGI_MAX_CONTENT) {
    const encoded = Buffer.from(text, 'latin1');
    return streamRecords(FCGI_STDOUT, requestId, data === null ? encoded : Buffer.concat([encoded, data]));
  }
  if (length === 0) return [];
  const padding = paddingFor(length);
  const record = Buffer.allocUnsafe(FCGI_HEADER_LEN + length + padding);
  writeHeader(record, 0, FCGI_STDOUT, requestId, length, padding);
  record.write(text, FCGI_HEADER_LEN, 'latin1');
  if (data !== null) data.copy(record, FCGI_HEADER_LEN + text.length);
  record.fill(0, FCGI_HEADER_LEN + length);
  return [record];
}

/** STDERR records carrying `data` (spec §5.3, §6.1); see {@link streamRecords}. */
export function stderrRecords(requestId: number, data: Buffer): Buffer[] {
  return streamRecords(FCGI_STDERR, requestId, data);
}

/** Client side: STDIN records carrying `data` (spec §5.3), without the terminator; see {@link streamRecords}. */
export function stdinRecords(
  requestId: number,
  data: Buffer,
  maxContent: number = FCGI_MAX_CONTENT,
): Buffer[] {
  return streamRecords(FCGI_STDIN, requestId, data, maxContent);
}

// Nearly every front end uses request id 1 (nginx, Apache, lighttpd, cgi-fcgi), so the terminators for
// id 1 are built once. Shared buffers are safe only because nothing here ever writes to them again.
const STREAM_END_ID1: Array<Buffer | undefined> = [];
for (const type of [FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR, FCGI_DATA]) {
  const record = Buffer.alloc(FCGI_HEADER_LEN);
  writeHeader(record, 0, type, 1, 0, 0);
  STREAM_END_ID1[type] = record;
}

/** The empty record that ends stream `type` of a request (spec §3.3). The buffer may be shared. */
export function streamEndRecord(type: StreamType, requestId: number): Buffer {
  if (requestId === 1) {
    const cached = STREAM_END_ID1[type];
    if (cached !== undefined) return cached;
  }
  checkApplicationId(requestId);
  const record = Buffer.allocUnsafe(FCGI_HEADER_LEN);
  writeHeader(record, 0, type, requestId, 0, 0);
  return record;
}

function buildEndRequest(requestId: number, appStatus: number, protocolStatus: number): Buffer {
  const record = fixedRecord(FCGI_END_REQUEST, requestId, FCGI_END_REQUEST_BODY_LEN);
  writeEndRequestBody(record, FCGI_HEADER_LEN, appStatus, protocolStatus);
  return record;
}

const END_REQUEST_COMPLETE_ID1 = buildEndRequest(1, 0, FCGI_REQUEST_COMPLETE);

/**
 * END_REQUEST: the last record of a request, after which its id is inactive and may be reused (spec §3.3,
 * §5.5). `appStatus` is the CGI exit status (32-bit unsigned). The buffer may be shared.
 */
export function endRequestRecord(
  requestId: number,
  appStatus = 0,
  protocolStatus: number = FCGI_REQUEST_COMPLETE,
): Buffer {
  if (requestId === 1 && appStatus === 0 && protocolStatus === FCGI_REQUEST_COMPLETE)
    return END_REQUEST_COMPLETE_ID1;
  checkApplicationId(requestId);
  return buildEndRequest(requestId, appStatus, protocolStatus);
}

/** A record of pairs on the null id: management records are discrete, so the pairs must fit in one (spec §4.1). */
function managementPairsRecord(type: number, pairs: ReadonlyArray<readonly [string, string]>): Buffer {
  const length = encodedPairsLength(pairs);
  if (length > FCGI_MAX_CONTENT) throw new RangeError(`${length} bytes of pairs do not fit one record`);
  const padding = paddingFor(length);
  // Small and rare: one buffer for header, pairs and padding.
  const record = Buffer.alloc(FCGI_HEADER_LEN + length + padding);
  writeHeader(record, 0, type, FCGI_NULL_REQUEST_ID, length, padding);
  let offset = FCGI_HEADER_LEN;
  for (const [name, value] of pairs) {
    offset = writePairLength(record, offset, name.length);
    offset = writePairLength(record, offset, value.length);
    offset += record.write(name, offset, 'latin1');
    offset += record.write(value, offset, 'latin1');
  }
  return record;
}

/**
 * GET_VALUES_RESULT on the null id (spec §4.1). Pass only the variables the application understands:
 * the spec says to omit unknown names (php-src #66479).
 */
export function getValuesResultRecord(pairs: Iterable<readonly [string, string]>): Buffer {
  return managementPairsRecord(FCGI_GET_VALUES_RESULT, Array.from(pairs));
}

/** UNKNOWN_TYPE on the null id, answering a management record of type `type` we do not understand (spec §4.2). */
export function unknownTypeRecord(type: number): Buffer {
  const record = fixedRecord(FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID, FCGI_UNKNOWN_TYPE_BODY_LEN);
  writeUnknownTypeBody(record, FCGI_HEADER_LEN, type);
  return record;
}

// Client side: what a web server sends. Used by tests, and by a client CLI talking to FastCGI apps.

/** Client side: BEGIN_REQUEST, making `requestId` active (spec §5.1). `flags` is FCGI_KEEP_CONN or 0. */
export function beginRequestRecord(requestId: number, role: number = FCGI_RESPONDER, flags = 0): Buffer {
  checkApplicationId(requestId);
  const record = fixedRecord(FCGI_BEGIN_REQUEST, requestId, FCGI_BEGIN_REQUEST_BODY_LEN);
  writeBeginRequestBody(record, FCGI_HEADER_LEN, role, flags);
  return record;
}

/**
 * Client side: the whole PARAMS stream of a request, terminator included (spec §5.2). The pairs are
 * encoded once and split every `maxContent` bytes, so a pair may straddle records, as the spec allows
 * (spec §3.3: a stream's value is independent of how its bytes are divided).
 */
export function paramsRecords(
  requestId: number,
  pairs: Iterable<readonly [string, string]>,
  maxContent: number = FCGI_MAX_CONTENT,
): Buffer[] {
  const records = streamRecords(FCGI_PARAMS, requestId, encodePairs(pairs), maxContent);
  records.push(streamEndRecord(FCGI_PARAMS, requestId));
  return records;
}

/** Client side: ABORT_REQUEST, an empty record (spec §5.4). */
export function abortRequestRecord(requestId: number): Buffer {
  checkApplicationId(requestId);
  return fixedRecord(FCGI_ABORT_REQUEST, requestId, 0);
}

/** Client side: GET_VALUES on the null id, asking for `names` as pairs with empty values (spec §4.1). */
export function getValuesRecord(names: Iterable<string>): Buffer {
  return managementPairsRecord(
    FCGI_GET_VALUES,
    Array.from(names, (name): readonly [string, string] => [name, '']),
  );
}

/** Client side: DATA records carrying `data` for the Filter role (spec §6.4), without the terminator. */
export function dataRecords(
  requestId: number,
  data: Buffer,
  maxContent: number = FCGI_MAX_CONTENT,
): Buffer[] {
  return streamRecords(FCGI_DATA, requestId, data, maxContent);
}
