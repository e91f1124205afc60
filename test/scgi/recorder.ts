// A recording ScgiSink for the parser tests: events as data, and every broken sink contract noted.
import { ScgiProtocolError, type ScgiErrorCode } from '../../src/scgi/errors';
import { ScgiParser, type HeaderPairs, type ScgiParserOptions, type ScgiSink } from '../../src/scgi/parser';

export type Event =
  | { type: 'headers'; pairs: HeaderPairs; contentLength: number }
  | { type: 'body'; data: string } // latin1, adjacent chunks merged
  | { type: 'bodyEnd' }
  | { type: 'excess'; bytes: number } // adjacent reports summed
  | { type: 'error'; code: ScgiErrorCode; status: number | undefined };

/** Records events and every broken sink contract (kept as data: a throwing sink would abort push()). */
export class Recorder implements ScgiSink {
  readonly events: Event[] = [];
  readonly violations: string[] = [];
  readonly bodyChunks: Buffer[] = [];
  private contentLength = -1;
  private bodyBytes = 0;
  private ended = false;
  private errored = false;

  headers(pairs: HeaderPairs, contentLength: number): void {
    if (this.contentLength !== -1) this.violations.push('headers twice');
    if (this.errored) this.violations.push('headers after error');
    this.contentLength = contentLength;
    this.events.push({ type: 'headers', pairs, contentLength });
  }

  body(chunk: Buffer): void {
    if (chunk.length === 0) this.violations.push('empty body chunk');
    if (this.contentLength === -1 || this.ended || this.errored) this.violations.push('body out of order');
    this.bodyBytes += chunk.length;
    if (this.bodyBytes > this.contentLength) this.violations.push('body beyond CONTENT_LENGTH');
    this.bodyChunks.push(chunk);
    const last = this.events[this.events.length - 1];
    if (last?.type === 'body') last.data += chunk.toString('latin1');
    else this.events.push({ type: 'body', data: chunk.toString('latin1') });
  }

  bodyEnd(): void {
    if (this.ended || this.errored) this.violations.push('bodyEnd out of order');
    if (this.bodyBytes !== this.contentLength) this.violations.push('bodyEnd before CONTENT_LENGTH bytes');
    this.ended = true;
    this.events.push({ type: 'bodyEnd' });
  }

  excess(bytes: number): void {
    if (!this.ended || this.errored) this.violations.push('excess before bodyEnd');
    if (!(bytes > 0)) this.violations.push('excess of no bytes');
    const last = this.events[this.events.length - 1];
    if (last?.type === 'excess') last.bytes += bytes;
    else this.events.push({ type: 'excess', bytes });
  }

  error(err: ScgiProtocolError): void {
    if (this.errored) this.violations.push('error twice');
    if (!(err instanceof ScgiProtocolError)) this.violations.push('error is not an ScgiProtocolError');
    this.errored = true;
    this.events.push({ type: 'error', code: err.code, status: err.status });
  }
}

export interface Run {
  events: Event[];
  violations: string[];
  parser: ScgiParser;
  recorder: Recorder;
}

export function run(chunks: readonly Buffer[], options?: ScgiParserOptions, eof = true): Run {
  const recorder = new Recorder();
  const parser = new ScgiParser(recorder, options);
  for (const chunk of chunks) parser.push(chunk);
  if (eof) parser.end();
  return { events: recorder.events, violations: recorder.violations, parser, recorder };
}
