// Byte-vector builders for the FastCGI tests: hex with comments, raw records, and a record splitter.

import { FCGI_HEADER_LEN } from '../../src/fastcgi/constants';
import { paddingFor } from '../../src/fastcgi/record';

/** Bytes from hex strings; spaces and anything after `#` on a line are ignored, so fields can be commented. */
export function hex(...parts: string[]): Buffer {
  const digits = parts
    .map((part) =>
      part
        .split('\n')
        .map((line) => line.replace(/#.*/, ''))
        .join(''),
    )
    .join('')
    .replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(digits)) throw new Error(`bad hex: ${digits}`);
  return Buffer.from(digits, 'hex');
}

/** Bytes of a latin1 string. */
export function latin1(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

/**
 * A raw record with any field the tests need wrong: header, content, then `padding` bytes of 0xEE
 * (receivers must ignore padding contents, spec §3.3). Padding defaults to the writer's `-len & 7`.
 */
export function rec(
  type: number,
  requestId: number,
  content: Buffer | string = Buffer.alloc(0),
  padding?: number,
  version = 1,
): Buffer {
  const body = typeof content === 'string' ? latin1(content) : content;
  const pad = padding ?? paddingFor(body.length);
  const header = Buffer.from([
    version,
    type,
    requestId >> 8,
    requestId & 0xff,
    body.length >> 8,
    body.length & 0xff,
    pad,
    0,
  ]);
  return Buffer.concat([header, body, Buffer.alloc(pad, 0xee)]);
}

/** A record as read back from bytes. */
export interface ReadRecord {
  version: number;
  type: number;
  requestId: number;
  content: Buffer;
  paddingLength: number;
  /** Offset of the record's first byte in the stream. */
  offset: number;
}

/** Splits a complete record stream (application to web server, or any direction) into records. */
export function readRecords(stream: Buffer): ReadRecord[] {
  const records: ReadRecord[] = [];
  let at = 0;
  while (at < stream.length) {
    if (stream.length - at < FCGI_HEADER_LEN) throw new Error(`partial header at ${at}`);
    const contentLength = stream.readUInt16BE(at + 4);
    const paddingLength = stream[at + 6];
    const end = at + FCGI_HEADER_LEN + contentLength + paddingLength;
    if (end > stream.length) throw new Error(`partial record at ${at}`);
    records.push({
      version: stream[at],
      type: stream[at + 1],
      requestId: stream.readUInt16BE(at + 2),
      content: stream.subarray(at + FCGI_HEADER_LEN, at + FCGI_HEADER_LEN + contentLength),
      paddingLength,
      offset: at,
    });
    at = end;
  }
  return records;
}

/** Each record of a record stream as its own slice (header, content and padding). */
export function recordSlices(stream: Buffer): Buffer[] {
  return readRecords(stream).map((r) =>
    stream.subarray(r.offset, r.offset + FCGI_HEADER_LEN + r.content.length + r.paddingLength),
  );
}

/** Offsets where records start in a record stream, plus its length: the clean places to cut it. */
export function recordBoundaries(stream: Buffer): Set<number> {
  const boundaries = new Set(readRecords(stream).map((r) => r.offset));
  boundaries.add(stream.length);
  return boundaries;
}
