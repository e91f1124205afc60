// The client side of FastCGI: records an application sends back, parsed incrementally (for clients and tests).
import {
  FCGI_END_REQUEST,
  FCGI_GET_VALUES_RESULT,
  FCGI_HEADER_LEN,
  FCGI_STDERR,
  FCGI_STDOUT,
  FCGI_UNKNOWN_TYPE,
  FCGI_VERSION_1,
} from './constants';
import { FastCgiProtocolError } from './errors';
import { decodePairList, type PairList } from './pairs';
import { decodeEndRequestBody, decodeHeader, decodeUnknownTypeBody } from './record';

/** Where {@link ReplyParser} delivers what an application wrote. */
export interface ReplySink {
  /** STDOUT bytes; never empty. */
  stdout(requestId: number, chunk: Buffer): void;
  /** The empty STDOUT record. */
  stdoutEnd(requestId: number): void;
  stderr(requestId: number, chunk: Buffer): void;
  endRequest(requestId: number, appStatus: number, protocolStatus: number): void;
  getValuesResult(pairs: PairList): void;
  unknownType(type: number): void;
  /** Bytes that are not a FastCGI reply; the parser stops. */
  error(err: FastCgiProtocolError): void;
}

/**
 * Parses an application's records (spec §5.3, §5.5, §4) as they arrive. Simpler than the server-side
 * parser: a client reads what it asked for, so it keeps one pending buffer and copies when a record
 * spans chunks.
 */
export class ReplyParser {
  private pending: Buffer = Buffer.alloc(0);
  private failed = false;

  constructor(private readonly sink: ReplySink) {}

  push(chunk: Buffer): void {
    if (this.failed) return;
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (buf.length >= FCGI_HEADER_LEN) {
      const header = decodeHeader(buf);
      if (header.version !== FCGI_VERSION_1) {
        this.fail(new FastCgiProtocolError('ERR_FCGI_BAD_VERSION', `reply record version ${header.version}`));
        return;
      }
      const total = FCGI_HEADER_LEN + header.contentLength + header.paddingLength;
      if (buf.length < total) break;
      const content = buf.subarray(FCGI_HEADER_LEN, FCGI_HEADER_LEN + header.contentLength);
      this.deliver(header.type, header.requestId, content);
      if (this.failed) return;
      buf = buf.subarray(total);
    }
    this.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
  }

  /** True when the input ended on a record boundary. */
  get atBoundary(): boolean {
    return this.pending.length === 0;
  }

  private deliver(type: number, requestId: number, content: Buffer): void {
    switch (type) {
      case FCGI_STDOUT:
        if (content.length === 0) this.sink.stdoutEnd(requestId);
        else this.sink.stdout(requestId, content);
        return;
      case FCGI_STDERR:
        if (content.length > 0) this.sink.stderr(requestId, content);
        return;
      case FCGI_END_REQUEST: {
        const body = decodeEndRequestBody(content);
        this.sink.endRequest(requestId, body.appStatus, body.protocolStatus);
        return;
      }
      case FCGI_GET_VALUES_RESULT:
        this.sink.getValuesResult(decodePairList(content));
        return;
      case FCGI_UNKNOWN_TYPE:
        this.sink.unknownType(decodeUnknownTypeBody(content));
        return;
      default:
        this.fail(
          new FastCgiProtocolError('ERR_FCGI_UNEXPECTED_TYPE', `an application sent record type ${type}`),
        );
    }
  }

  private fail(error: FastCgiProtocolError): void {
    this.failed = true;
    this.sink.error(error);
  }
}
