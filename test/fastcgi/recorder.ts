// A recording RecordSink for the parser tests: events as data, sink hooks, and every broken sink contract noted.

import { FastCgiProtocolError, type FastCgiErrorCode } from '../../src/fastcgi/errors';
import { RecordParser, type RecordParserOptions, type RecordSink } from '../../src/fastcgi/parser';

export type Event =
  | ['begin', number, number, boolean]
  | ['overloaded', number, number, boolean]
  | ['params', number, string[]]
  | ['stdin', number, string]
  | ['stdinEnd', number]
  | ['data', number, string]
  | ['dataEnd', number]
  | ['abort', number]
  | ['getValues', string[]]
  | ['unknownType', number]
  | ['error', FastCgiErrorCode, number | undefined];

export type EventKind = Event[0];

export interface Hooks {
  /** After an event of one of these kinds, the sink calls requestDone(id), as a connection would after END_REQUEST. */
  doneAfter?: EventKind[];
  /** Called after each event is recorded, with the parser, for tests that act from inside the sink. */
  onEvent?: (event: Event, parser: RecordParser) => void;
}

/**
 * Appends `event`, merged into the last one when both are STDIN (or DATA) pieces of one request: how
 * a stream is cut into records and chunks must not show in what a test compares.
 */
export function appendEvent(events: Event[], event: Event): void {
  const last = events[events.length - 1];
  if ((event[0] === 'stdin' || event[0] === 'data') && last?.[0] === event[0] && last[1] === event[1]) {
    last[2] += event[2];
  } else {
    events.push(event);
  }
}

/** Records events (adjacent STDIN or DATA pieces of one id merged) and notes broken sink contracts. */
export class Recorder implements RecordSink {
  readonly events: Event[] = [];
  readonly errors: FastCgiProtocolError[] = [];
  readonly violations: string[] = [];
  readonly stdinChunks: Buffer[] = [];
  parser!: RecordParser;
  private fatal = false;
  private readonly closed = new Set<number>();

  constructor(private readonly hooks: Hooks = {}) {}

  private record(event: Event, id?: number): void {
    if (this.fatal) this.violations.push(`${event[0]} after a fatal error`);
    if (id !== undefined && this.closed.has(id) && event[0] !== 'begin' && event[0] !== 'overloaded') {
      this.violations.push(`${event[0]} for request ${id} after its error or abort`);
    }
    appendEvent(this.events, event);
    if (id !== undefined && this.hooks.doneAfter?.includes(event[0])) this.parser.requestDone(id);
    this.hooks.onEvent?.(event, this.parser);
  }

  beginRequest(id: number, role: number, keepConn: boolean): void {
    this.closed.delete(id);
    this.record(['begin', id, role, keepConn], id);
  }
  overloaded(id: number, role: number, keepConn: boolean): void {
    this.record(['overloaded', id, role, keepConn], id);
  }
  params(id: number, pairs: string[]): void {
    this.record(['params', id, pairs], id);
  }
  stdin(id: number, chunk: Buffer): void {
    if (chunk.length === 0) this.violations.push('empty stdin chunk');
    this.stdinChunks.push(chunk);
    this.record(['stdin', id, chunk.toString('latin1')], id);
  }
  stdinEnd(id: number): void {
    this.record(['stdinEnd', id], id);
  }
  data(id: number, chunk: Buffer): void {
    if (chunk.length === 0) this.violations.push('empty data chunk');
    this.record(['data', id, chunk.toString('latin1')], id);
  }
  dataEnd(id: number): void {
    this.record(['dataEnd', id], id);
  }
  abortRequest(id: number): void {
    this.record(['abort', id], id);
    this.closed.add(id);
  }
  getValues(names: string[]): void {
    this.record(['getValues', names]);
  }
  unknownType(type: number): void {
    this.record(['unknownType', type]);
  }
  error(err: FastCgiProtocolError): void {
    if (!(err instanceof FastCgiProtocolError)) this.violations.push('error is not a FastCgiProtocolError');
    if (err.fatal !== (err.requestId === undefined)) this.violations.push('fatal and requestId disagree');
    if (err.fatal && !this.parser.errored) this.violations.push('fatal error but parser not errored');
    this.errors.push(err);
    this.record(['error', err.code, err.requestId], err.requestId);
    if (err.fatal) this.fatal = true;
    else this.closed.add(err.requestId as number);
  }
}

export interface ParseResult {
  events: Event[];
  violations: string[];
  recorder: Recorder;
  parser: RecordParser;
}

export function parse(
  chunks: Buffer[],
  options: RecordParserOptions = {},
  hooks: Hooks = {},
  end = true,
): ParseResult {
  const recorder = new Recorder(hooks);
  const parser = new RecordParser(recorder, options);
  recorder.parser = parser;
  for (const chunk of chunks) parser.push(chunk);
  if (end) parser.end();
  return { events: recorder.events, violations: recorder.violations, recorder, parser };
}
