// Record layout: the 8-byte header and the fixed 8-byte bodies, encoded into and decoded from buffers (spec §3.3, §5).

import {
  FCGI_BEGIN_REQUEST_BODY_LEN,
  FCGI_END_REQUEST_BODY_LEN,
  FCGI_HEADER_LEN,
  FCGI_KEEP_CONN,
  FCGI_MAX_CONTENT,
  FCGI_MAX_PADDING,
  FCGI_MAX_REQUEST_ID,
  FCGI_UNKNOWN_TYPE_BODY_LEN,
  FCGI_VERSION_1,
} from './constants';

/** A decoded record header (spec §3.3). */
export interface RecordHeader {
  version: number;
  type: number;
  requestId: number;
  contentLength: number;
  paddingLength: number;
}

/**
 * Padding that brings `contentLength` to a multiple of 8: the spec recommends records on 8-byte
 * boundaries (spec §3.3, "Padding"), and `-len & 7` is that remainder without a branch.
 */
export function paddingFor(contentLength: number): number {
  return -contentLength & 7;
}

function checkByte(what: string, value: number): void {
  if (!(value >= 0 && value <= 0xff) || !Number.isInteger(value))
    throw new RangeError(`${what} out of range: ${value}`);
}

/** Throws RangeError unless `requestId` fits the 16-bit field (0 for management records). */
export function checkRequestId(requestId: number): void {
  if (!(requestId >= 0 && requestId <= FCGI_MAX_REQUEST_ID) || !Number.isInteger(requestId)) {
    throw new RangeError(`FastCGI request id out of range: ${requestId}`);
  }
}

/**
 * Writes a version-1 header at `offset` (spec §3.3): version, type, requestId BE16, contentLength BE16,
 * paddingLength, reserved 0. Throws RangeError when a field does not fit.
 */
export function writeHeader(
  target: Buffer,
  offset: number,
  type: number,
  requestId: number,
  contentLength: number,
  paddingLength: number,
): void {
  checkByte('record type', type);
  checkRequestId(requestId);
  if (!(contentLength >= 0 && contentLength <= FCGI_MAX_CONTENT) || !Number.isInteger(contentLength)) {
    throw new RangeError(`FastCGI content length out of range: ${contentLength}`);
  }
  if (!(paddingLength >= 0 && paddingLength <= FCGI_MAX_PADDING) || !Number.isInteger(paddingLength)) {
    throw new RangeError(`FastCGI padding length out of range: ${paddingLength}`);
  }
  target[offset] = FCGI_VERSION_1;
  target[offset + 1] = type;
  target[offset + 2] = requestId >>> 8;
  target[offset + 3] = requestId & 0xff;
  target[offset + 4] = contentLength >>> 8;
  target[offset + 5] = contentLength & 0xff;
  target[offset + 6] = paddingLength;
  target[offset + 7] = 0;
}

/** A fresh 8-byte header (see {@link writeHeader}). */
export function encodeHeader(
  type: number,
  requestId: number,
  contentLength: number,
  paddingLength = 0,
): Buffer {
  const header = Buffer.allocUnsafe(FCGI_HEADER_LEN);
  writeHeader(header, 0, type, requestId, contentLength, paddingLength);
  return header;
}

/** Reads the header at `offset`; the caller makes sure 8 bytes are there. The version is not checked. */
export function decodeHeader(buf: Buffer, offset = 0): RecordHeader {
  if (buf.length - offset < FCGI_HEADER_LEN) throw new RangeError('FastCGI header needs 8 bytes');
  return {
    version: buf[offset],
    type: buf[offset + 1],
    requestId: (buf[offset + 2] << 8) | buf[offset + 3],
    contentLength: (buf[offset + 4] << 8) | buf[offset + 5],
    paddingLength: buf[offset + 6],
  };
}

/** FCGI_BeginRequestBody (spec §5.1). */
export interface BeginRequestBody {
  role: number;
  flags: number;
  keepConn: boolean;
}

/** Writes FCGI_BeginRequestBody at `offset`: role BE16, flags, 5 reserved zero bytes (spec §5.1). */
export function writeBeginRequestBody(target: Buffer, offset: number, role: number, flags: number): void {
  if (!(role >= 0 && role <= 0xffff) || !Number.isInteger(role))
    throw new RangeError(`role out of range: ${role}`);
  checkByte('flags', flags);
  target[offset] = role >>> 8;
  target[offset + 1] = role & 0xff;
  target[offset + 2] = flags;
  target.fill(0, offset + 3, offset + FCGI_BEGIN_REQUEST_BODY_LEN);
}

/** Reads FCGI_BeginRequestBody at `offset` (spec §5.1); reserved bytes are ignored. */
export function decodeBeginRequestBody(buf: Buffer, offset = 0): BeginRequestBody {
  if (buf.length - offset < FCGI_BEGIN_REQUEST_BODY_LEN)
    throw new RangeError('BEGIN_REQUEST body needs 8 bytes');
  const flags = buf[offset + 2];
  return { role: (buf[offset] << 8) | buf[offset + 1], flags, keepConn: (flags & FCGI_KEEP_CONN) !== 0 };
}

/** FCGI_EndRequestBody (spec §5.5). */
export interface EndRequestBody {
  appStatus: number;
  protocolStatus: number;
}

/** Writes FCGI_EndRequestBody at `offset`: appStatus BE32, protocolStatus, 3 reserved zero bytes (spec §5.5). */
export function writeEndRequestBody(
  target: Buffer,
  offset: number,
  appStatus: number,
  protocolStatus: number,
): void {
  if (!(appStatus >= 0 && appStatus <= 0xffffffff) || !Number.isInteger(appStatus)) {
    throw new RangeError(`appStatus out of range: ${appStatus}`);
  }
  checkByte('protocolStatus', protocolStatus);
  target.writeUInt32BE(appStatus, offset);
  target[offset + 4] = protocolStatus;
  target.fill(0, offset + 5, offset + FCGI_END_REQUEST_BODY_LEN);
}

/** Reads FCGI_EndRequestBody at `offset` (spec §5.5). */
export function decodeEndRequestBody(buf: Buffer, offset = 0): EndRequestBody {
  if (buf.length - offset < FCGI_END_REQUEST_BODY_LEN) throw new RangeError('END_REQUEST body needs 8 bytes');
  return { appStatus: buf.readUInt32BE(offset), protocolStatus: buf[offset + 4] };
}

/** Writes FCGI_UnknownTypeBody at `offset`: the unrecognised type, 7 reserved zero bytes (spec §4.2). */
export function writeUnknownTypeBody(target: Buffer, offset: number, type: number): void {
  checkByte('record type', type);
  target[offset] = type;
  target.fill(0, offset + 1, offset + FCGI_UNKNOWN_TYPE_BODY_LEN);
}

/** Reads FCGI_UnknownTypeBody at `offset` (spec §4.2): the type the peer did not understand. */
export function decodeUnknownTypeBody(buf: Buffer, offset = 0): number {
  if (buf.length - offset < FCGI_UNKNOWN_TYPE_BODY_LEN)
    throw new RangeError('UNKNOWN_TYPE body needs 8 bytes');
  return buf[offset];
}
