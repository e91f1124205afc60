// What the FastCGI and SCGI clients take and give: one request, its options, the parsed response.
import type { Readable } from 'node:stream';
import type { ListenAddress } from '../common/address';
import type { CgiResponseHead } from './cgi-head';

/** The two protocols a client speaks. */
export type ClientProtocol = 'fastcgi' | 'scgi';

/** One request: its CGI variables and body. */
export interface CgiRequest {
  /**
   * CGI variables in the order to send. A non-empty CONTENT_LENGTH is the body's length; without
   * one, a byte body gets its length added, and a stream body is sent as it comes (FastCGI) or
   * spooled to learn its length (SCGI).
   */
  readonly params: Iterable<readonly [string, string]>;
  /** The request body: bytes, or a stream read while it is sent. None: an empty body. */
  readonly body?: Uint8Array | Readable | AsyncIterable<Uint8Array>;
}

export interface ClientOptions {
  /** `unix:/path`, `/path`, `host:port`, `[v6]:port`, `:port` (loopback), or a parsed address. */
  readonly address: string | ListenAddress;
  /** Milliseconds without any byte sent or received before giving up (default 60000). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Largest CGI response head (default 65536). */
  readonly maxHeadBytes?: number;
}

/** FastCGI extras: what arrives beside STDOUT. */
export interface FastCgiOptions extends ClientOptions {
  /** STDERR bytes as they arrive (spec §5.3); dropped when not given. */
  readonly onStderr?: (chunk: Buffer) => void;
  /** END_REQUEST's appStatus and protocolStatus (spec §5.5), once the response is complete. */
  readonly onEnd?: (end: { appStatus: number; protocolStatus: number }) => void;
}

export interface ScgiOptions extends ClientOptions {
  /**
   * SCGI sends the body's length before the body (SCGI protocol.txt): a stream body without
   * CONTENT_LENGTH is read into memory up to this many bytes first (default 16 MiB), beyond which
   * the request fails with ERR_CLIENT_LENGTH_REQUIRED.
   */
  readonly maxSpoolBytes?: number;
}

/** A response whose head has arrived; the body streams on. */
export interface ClientResponse extends CgiResponseHead {
  /** The body after the head; fails with a ClientError if the exchange breaks off. */
  readonly body: Readable;
}
