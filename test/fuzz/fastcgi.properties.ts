// Properties of RecordParser: valid connections (kept alive, multiplexed, records cut and padded at
// random) parse to their model however the bytes are cut; any other input ends only in typed errors,
// the same for every cut, with PARAMS buffered within the limits.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FCGI_ABORT_REQUEST,
  FCGI_AUTHORIZER,
  FCGI_BEGIN_REQUEST,
  FCGI_DATA,
  FCGI_FILTER,
  FCGI_GET_VALUES,
  FCGI_HEADER_LEN,
  FCGI_KEEP_CONN,
  FCGI_MAX_CONNS,
  FCGI_MAX_CONTENT,
  FCGI_MAX_REQS,
  FCGI_MPXS_CONNS,
  FCGI_NULL_REQUEST_ID,
  FCGI_PARAMS,
  FCGI_RESPONDER,
  FCGI_STDIN,
  FCGI_VERSION_1,
} from '../../src/fastcgi/constants';
import { FASTCGI_ERROR_CODES } from '../../src/fastcgi/errors';
import { encodePairs } from '../../src/fastcgi/pairs';
import type { RecordParserOptions } from '../../src/fastcgi/parser';
import { DEFAULT_LIMITS } from '../../src/runtime/limits';
import {
  appendEvent,
  parse,
  type Event,
  type EventKind,
  type Hooks,
  type ParseResult,
} from '../fastcgi/recorder';
import { rec } from '../fastcgi/vectors';
import {
  chunking,
  cut,
  latin1Text,
  mutated,
  payload,
  position,
  randomBytes,
  type Chunking,
} from './arbitraries';
import { pairList, encodeInForms, type Pair } from './pairs.properties';
import { fuzzProperty, HighWater, type FuzzProperty } from './property';

const PARSER = 'FastCGI';

/** A record on the wire and the events it must cause. */
interface WireRecord {
  bytes: Buffer;
  events: Event[];
}

/** One request as a web server could send it, before its records are interleaved with others. */
interface RequestPlan {
  id: number;
  role: number;
  flags: number;
  pairs: Pair[];
  /** Lengths below 128 written in the 4-byte form, cyclically (spec §3.4 allows both). */
  longForms: boolean[];
  /** Where the PARAMS, STDIN and DATA streams are cut into records. */
  paramsCuts: number[];
  stdin: Buffer;
  stdinCuts: number[];
  /** DATA, sent only for the Filter role (spec §6.4). */
  data: Buffer;
  dataCuts: number[];
  /** ABORT_REQUEST after this many of the request's records; the records after it are still sent. */
  abortAfter: number | null;
  /** Padding of each record, cyclically: any 0–255 is legal (spec §3.3). */
  paddings: number[];
}

const requestPlan: fc.Arbitrary<RequestPlan> = fc.record({
  // Front ends mostly use id 1; a few ids make reuse and interleaving frequent.
  id: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 65535 })),
  role: fc.oneof(
    { weight: 4, arbitrary: fc.constant(FCGI_RESPONDER) },
    { weight: 2, arbitrary: fc.constantFrom(FCGI_AUTHORIZER, FCGI_FILTER) },
    { weight: 1, arbitrary: fc.nat(65535) },
  ),
  flags: fc.oneof(fc.constant(FCGI_KEEP_CONN), fc.nat(255)),
  pairs: pairList,
  longForms: fc.array(fc.boolean(), { maxLength: 4 }),
  paramsCuts: fc.array(position, { maxLength: 5 }),
  stdin: payload(),
  stdinCuts: fc.array(position, { maxLength: 5 }),
  data: payload(),
  dataCuts: fc.array(position, { maxLength: 3 }),
  abortAfter: fc.oneof({ weight: 7, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
  paddings: fc.array(fc.oneof(fc.nat(7), fc.nat(255)), { maxLength: 4 }),
});

/** Non-empty pieces of `content` cut at `cuts`, none over the 65535 bytes a record can carry. */
function pieces(content: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (const piece of cut(content, { cuts })) {
    for (let at = 0; at < piece.length; at += FCGI_MAX_CONTENT) {
      out.push(piece.subarray(at, at + FCGI_MAX_CONTENT));
    }
  }
  return out;
}

/** The request's records in order, each with the events it causes when the request is not aborted. */
function requestRecords(plan: RequestPlan): WireRecord[] {
  const { id } = plan;
  let n = 0;
  const padding = (): number => (plan.paddings.length === 0 ? 0 : plan.paddings[n++ % plan.paddings.length]);
  const out: WireRecord[] = [];
  const stream = (type: number, content: Buffer, cuts: number[], end: Event): void => {
    for (const piece of pieces(content, cuts)) {
      const events: Event[] =
        type === FCGI_STDIN
          ? [['stdin', id, piece.toString('latin1')]]
          : type === FCGI_DATA
            ? [['data', id, piece.toString('latin1')]]
            : [];
      out.push({ bytes: rec(type, id, piece, padding()), events });
    }
    out.push({ bytes: rec(type, id, Buffer.alloc(0), padding()), events: [end] });
  };
  // FCGI_BeginRequestBody: role BE16, flags, 5 reserved bytes (spec §5.1).
  const begin = Buffer.alloc(8);
  begin.writeUInt16BE(plan.role, 0);
  begin[2] = plan.flags;
  out.push({
    bytes: rec(FCGI_BEGIN_REQUEST, id, begin, padding()),
    events: [['begin', id, plan.role, (plan.flags & FCGI_KEEP_CONN) !== 0]],
  });
  stream(FCGI_PARAMS, encodeInForms(plan.pairs, plan.longForms), plan.paramsCuts, [
    'params',
    id,
    plan.pairs.flat(),
  ]);
  stream(FCGI_STDIN, plan.stdin, plan.stdinCuts, ['stdinEnd', id]);
  if (plan.role === FCGI_FILTER) stream(FCGI_DATA, plan.data, plan.dataCuts, ['dataEnd', id]);
  if (plan.abortAfter !== null) {
    // After the abort the id is done (the application answers END_REQUEST at once), so the records
    // that still follow are for an inactive id and cause nothing (spec §3.3, §5.4).
    const at = 1 + (plan.abortAfter % (out.length - 1));
    const abort = {
      bytes: rec(FCGI_ABORT_REQUEST, id, Buffer.alloc(0), padding()),
      events: [['abort', id]] as Event[],
    };
    for (const later of out.slice(at)) later.events = [];
    out.splice(at, 0, abort);
  }
  return out;
}

/** A management record on the null id: GET_VALUES, or a type an application answers with UNKNOWN_TYPE. */
const managementRecord: fc.Arbitrary<WireRecord> = fc.oneof(
  fc
    .array(
      fc.oneof(
        fc.constantFrom(FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS),
        latin1Text({ maxLength: 20 }),
      ),
      {
        maxLength: 4,
      },
    )
    .map((names): WireRecord => ({
      bytes: rec(FCGI_GET_VALUES, FCGI_NULL_REQUEST_ID, encodePairs(names.map((name) => [name, '']))),
      events: [['getValues', names]],
    })),
  fc
    .tuple(
      fc.nat(255).filter((type) => type !== FCGI_GET_VALUES),
      randomBytes(20),
    )
    .map(([type, content]): WireRecord => ({
      bytes: rec(type, FCGI_NULL_REQUEST_ID, content),
      events: [['unknownType', type]],
    })),
);

/** A whole connection with the events it must cause, and the limits and sink it is parsed with. */
interface ConnectionCase {
  bytes: Buffer;
  expected: Event[];
  options: RecordParserOptions;
  /** Makes the sink a connection would be: requestDone() once a request is over. */
  hooks: () => Hooks;
}

/**
 * The sink calls requestDone() when a request is over, as a connection does after END_REQUEST: at
 * the end of STDIN (and of DATA, for a Filter), or on ABORT_REQUEST.
 */
function connectionHooks(): Hooks {
  const open = new Map<number, { filter: boolean; stdinEnded: boolean; dataEnded: boolean }>();
  return {
    onEvent: (event, parser) => {
      const kind = event[0];
      if (kind === 'begin') {
        open.set(event[1], { filter: event[2] === FCGI_FILTER, stdinEnded: false, dataEnded: false });
        return;
      }
      if (kind !== 'stdinEnd' && kind !== 'dataEnd' && kind !== 'abort') return;
      const id = event[1];
      const state = open.get(id);
      if (state === undefined) return;
      if (kind === 'stdinEnd') state.stdinEnded = true;
      if (kind === 'dataEnd') state.dataEnded = true;
      if (kind === 'abort' || (state.stdinEnded && (state.dataEnded || !state.filter))) {
        open.delete(id);
        parser.requestDone(id);
      }
    },
  };
}

/**
 * Requests of one connection, interleaved by `choices` (each picks the next request to start or the
 * active request that sends its next record) with at most `concurrency` active at once and an id
 * never begun again before its previous request's last record; management records slotted in.
 */
const validConnection: fc.Arbitrary<ConnectionCase> = fc
  .record({
    plans: fc.array(requestPlan, { minLength: 1, maxLength: 5 }),
    concurrency: fc.integer({ min: 1, max: 4 }),
    choices: fc.array(position, { maxLength: 40 }),
    management: fc.array(fc.tuple(position, managementRecord), { maxLength: 3 }),
    requestSlack: fc.option(fc.nat(2)),
    paramsSlack: fc.option(fc.nat(16)),
  })
  .map(({ plans, concurrency, choices, management, requestSlack, paramsSlack }): ConnectionCase => {
    const pending = plans.map((plan) => ({ id: plan.id, records: requestRecords(plan), next: 0 }));
    const active: typeof pending = [];
    const wire: WireRecord[] = [];
    for (let turn = 0; pending.length > 0 || active.length > 0; turn++) {
      const choice = choices.length === 0 ? 0 : choices[turn % choices.length];
      const canStart =
        pending.length > 0 && active.length < concurrency && active.every((a) => a.id !== pending[0].id);
      if (canStart && (active.length === 0 || choice % (active.length + 1) === active.length)) {
        active.push(pending.shift()!);
        continue;
      }
      const request = active[choice % active.length];
      wire.push(request.records[request.next++]);
      if (request.next === request.records.length) active.splice(active.indexOf(request), 1);
    }
    for (const [at, record] of management) wire.splice(at % (wire.length + 1), 0, record);
    const expected: Event[] = [];
    for (const record of wire) for (const event of record.events) appendEvent(expected, [...event] as Event);
    const paramsBytes = Math.max(...plans.map((p) => encodeInForms(p.pairs, p.longForms).length));
    return {
      bytes: Buffer.concat(wire.map((r) => r.bytes)),
      expected,
      options: {
        maxConnRequests: requestSlack === null ? undefined : concurrency + requestSlack,
        maxParamsBytes: paramsSlack === null ? undefined : paramsBytes + paramsSlack,
      },
      hooks: connectionHooks,
    };
  });

/**
 * The longest GET_VALUES content in `stream`, framed as the parser frames it (until a header with
 * another version, where the parser stops). Apart from PARAMS it is the only content read whole.
 */
function longestGetValues(stream: Buffer): number {
  let longest = 0;
  for (let at = 0; at + FCGI_HEADER_LEN <= stream.length;) {
    if (stream[at] !== FCGI_VERSION_1) break;
    const contentLength = stream.readUInt16BE(at + 4);
    if (stream[at + 1] === FCGI_GET_VALUES && stream.readUInt16BE(at + 2) === FCGI_NULL_REQUEST_ID) {
      longest = Math.max(longest, contentLength);
    }
    at += FCGI_HEADER_LEN + contentLength + stream[at + 6];
  }
  return longest;
}

/**
 * What the parser may hold between pushes: the PARAMS of every request it lets be active, each within
 * maxParamsBytes, plus the one record being read, a header or a GET_VALUES, which is read whole.
 */
function highWaterBound(bytes: Buffer, options: RecordParserOptions): number {
  const requests = options.maxConnRequests ?? DEFAULT_LIMITS.maxConnRequests;
  const params = options.maxParamsBytes ?? DEFAULT_LIMITS.maxParamsBytes;
  return requests * params + Math.max(FCGI_HEADER_LEN, longestGetValues(bytes));
}

function checkResult(
  result: ParseResult,
  bytes: Buffer,
  options: RecordParserOptions,
  highWater: HighWater,
): void {
  assert.deepStrictEqual(result.violations, [], 'sink contract broken');
  for (const err of result.recorder.errors) {
    assert.ok(err.code in FASTCGI_ERROR_CODES, `unknown code ${err.code}`);
    if (err.fatal) assert.equal(err.status, undefined, err.code);
    else assert.ok(err.status === 400 || err.status === 431, `${err.code} with status ${err.status}`);
  }
  const bound = highWaterBound(bytes, options);
  const mark = result.parser.highWaterMark;
  assert.ok(highWater.note(mark, bound), `high-water mark ${mark} over ${bound}`);
}

function validHolds(highWater: HighWater): (input: [ConnectionCase, Chunking]) => void {
  return ([connection, how]) => {
    const { bytes, options } = connection;
    const whole = parse([bytes], options, connection.hooks());
    const split = parse(cut(bytes, how), options, connection.hooks());
    checkResult(whole, bytes, options, highWater);
    checkResult(split, bytes, options, highWater);
    assert.deepStrictEqual(whole.events, connection.expected);
    assert.deepStrictEqual(split.events, connection.expected);
    assert.equal(whole.parser.errored, false);
    // Every request ran to its end, so nothing is held; in one chunk nothing ever waited for a push.
    assert.equal(split.parser.bufferedBytes, 0);
    assert.equal(whole.parser.highWaterMark, 0);
  };
}

/** Limits from the defaults down to small enough that many inputs break them. */
const anyOptions: fc.Arbitrary<RecordParserOptions> = fc.record({
  maxParamsBytes: fc.oneof(fc.constant(undefined), fc.nat(300)),
  maxConnRequests: fc.oneof(fc.constant(undefined), fc.integer({ min: 1, max: 4 })),
});

/** Events after which the sink ends a request; only whole events, so every cut sees the same calls. */
const anyHooks: fc.Arbitrary<EventKind[]> = fc.subarray([
  'error',
  'abort',
  'params',
  'stdinEnd',
  'dataEnd',
  'overloaded',
] as EventKind[]);

function anyHolds(
  highWater: HighWater,
): (input: [Buffer, RecordParserOptions, EventKind[], Chunking]) => void {
  return ([bytes, options, doneAfter, how]) => {
    const whole = parse([bytes], options, { doneAfter });
    const split = parse(cut(bytes, how), options, { doneAfter });
    checkResult(whole, bytes, options, highWater);
    checkResult(split, bytes, options, highWater);
    assert.deepStrictEqual(split.events, whole.events, 'events depend on where the input was cut');
  };
}

/** A record with fields drawn around what the parser tells apart, and content from plausible to noise. */
const randomRecord: fc.Arbitrary<Buffer> = fc
  .record({
    type: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(1, 1, 2, 4, 4, 5, 5, 8, 9) },
      { weight: 1, arbitrary: fc.nat(255) },
    ),
    id: fc.constantFrom(0, 1, 1, 2, 3, 65535),
    content: fc.oneof(
      fc.constant(Buffer.from([0, 1, 1, 0, 0, 0, 0, 0])), // a BEGIN_REQUEST body: RESPONDER, KEEP_CONN
      pairList.map((pairs) => encodePairs(pairs)),
      randomBytes(300),
    ),
    padding: fc.oneof(fc.nat(7), fc.nat(255)),
  })
  .map(({ type, id, content, padding }) => rec(type, id, content, padding));

const randomInput: fc.Arbitrary<Buffer> = fc.oneof(
  randomBytes(100),
  fc.array(randomRecord, { maxLength: 10 }).map((records) => Buffer.concat(records)),
);

function fastCgiProperties(): FuzzProperty[] {
  const valid = new HighWater();
  const broken = new HighWater();
  const noise = new HighWater();
  return [
    fuzzProperty(
      PARSER,
      'valid connections (kept, multiplexed, records cut and padded) parse to their model, whole and cut anywhere',
      fc.tuple(validConnection, chunking()),
      validHolds(valid),
      valid,
    ),
    fuzzProperty(
      PARSER,
      'mutated connections: typed errors only, the same for every cut, PARAMS within the limits',
      fc.tuple(mutated(validConnection.map((c) => c.bytes)), anyOptions, anyHooks, chunking()),
      anyHolds(broken),
      broken,
    ),
    fuzzProperty(
      PARSER,
      'random records and bytes: typed errors only, the same for every cut, PARAMS within the limits',
      fc.tuple(randomInput, anyOptions, anyHooks, chunking()),
      anyHolds(noise),
      noise,
    ),
  ];
}

export const FASTCGI_PROPERTIES: readonly FuzzProperty[] = fastCgiProperties();
