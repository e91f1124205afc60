// Properties of ScgiParser: a valid request parses to its model however it is cut; any other input
// ends in an ScgiProtocolError, the same for every cut, without buffering past maxHeaderBytes.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_LIMITS } from '../../src/runtime/limits';
import { SCGI_ERROR_STATUS } from '../../src/scgi/errors';
import type { HeaderPairs, ScgiParserOptions } from '../../src/scgi/parser';
import { serializeScgiHeaders } from '../../src/scgi/serializer';
import { run, type Event, type Run } from '../scgi/recorder';
import { chunking, cut, latin1Text, mutated, payload, randomBytes, type Chunking } from './arbitraries';
import { fuzzProperty, HighWater, type FuzzProperty } from './property';

const PARSER = 'SCGI';

/** A request as bytes, with the events parsing it must give and the limits it is parsed under. */
interface ScgiCase {
  bytes: Buffer;
  expected: Event[];
  options: ScgiParserOptions;
  /** Size of the netstring's header block: all the parser ever needs to hold. */
  blockLength: number;
}

const NAMES = [
  'SCGI',
  'REQUEST_METHOD',
  'REQUEST_URI',
  'QUERY_STRING',
  'HTTP_HOST',
  'HTTP_COOKIE',
  'CONTENT_TYPE',
];

const headerName = fc
  .oneof(fc.constantFrom(...NAMES), latin1Text({ minLength: 1, maxLength: 20, noNul: true }))
  .filter((name) => name !== 'CONTENT_LENGTH');

const headerValue = fc.oneof(
  { weight: 4, arbitrary: latin1Text({ maxLength: 40, noNul: true }) },
  { weight: 1, arbitrary: latin1Text({ maxLength: 2000, noNul: true }) },
);

/** Limits that leave `slack` bytes above what the request needs, or the defaults when slack is null. */
const limit = (needed: number, slack: number | null): number | undefined =>
  slack === null ? undefined : needed + slack;

/**
 * Well-formed requests: random headers (repeats and empty values included) after CONTENT_LENGTH,
 * written either by the client's serializer (CONTENT_LENGTH, SCGI=1, the rest) or verbatim (no SCGI
 * unless drawn, CONTENT_LENGTH with leading zeros), a body of any size, sometimes bytes after it.
 */
const validRequest: fc.Arbitrary<ScgiCase> = fc
  .record({
    fields: fc.array(fc.tuple(headerName, headerValue), { maxLength: 12 }),
    viaClient: fc.boolean(),
    zeros: fc.nat(2),
    body: payload(),
    excess: fc.oneof(
      { weight: 3, arbitrary: fc.constant(Buffer.alloc(0)) },
      { weight: 1, arbitrary: randomBytes(16) },
    ),
    headerSlack: fc.option(fc.nat(8)),
  })
  .map(({ fields, viaClient, zeros, body, excess, headerSlack }): ScgiCase => {
    let pairs: HeaderPairs;
    let head: Buffer;
    if (viaClient) {
      head = serializeScgiHeaders(fields, body.length);
      pairs = ['CONTENT_LENGTH', String(body.length), 'SCGI', '1'];
      for (const [name, value] of fields) if (name !== 'SCGI') pairs.push(name, value);
    } else {
      pairs = ['CONTENT_LENGTH', '0'.repeat(zeros) + body.length, ...fields.flat()];
      const block = pairs.join('\0') + '\0';
      head = Buffer.from(`${block.length}:${block},`, 'latin1');
    }
    const blockLength = head.length - head.indexOf(':') - 2;
    const expected: Event[] = [{ type: 'headers', pairs, contentLength: body.length }];
    if (body.length > 0) expected.push({ type: 'body', data: body.toString('latin1') });
    expected.push({ type: 'bodyEnd' });
    if (excess.length > 0) expected.push({ type: 'excess', bytes: excess.length });
    return {
      bytes: Buffer.concat([head, body, excess]),
      expected,
      options: { maxHeaderBytes: limit(blockLength, headerSlack) },
      blockLength,
    };
  });

/** Limits from none to small enough that most inputs break them. */
const anyOptions: fc.Arbitrary<ScgiParserOptions> = fc.record({
  maxHeaderBytes: fc.oneof(fc.constant(undefined), fc.nat(120)),
});

/** Noise, alone or behind a plausible netstring length. */
const randomInput: fc.Arbitrary<Buffer> = fc.oneof(
  randomBytes(300),
  fc
    .tuple(fc.nat(120), randomBytes(200))
    .map(([length, rest]) => Buffer.concat([Buffer.from(`${length}:`), rest])),
);

function noViolations(result: Run): void {
  assert.deepStrictEqual(result.violations, [], 'sink contract broken');
}

/** Checks the parser's mark against maxHeaderBytes and notes it for the report. */
function withinLimit(highWater: HighWater, result: Run, options: ScgiParserOptions): void {
  const bound = options.maxHeaderBytes ?? DEFAULT_LIMITS.maxHeaderBytes;
  const mark = result.parser.highWaterMark;
  assert.ok(highWater.note(mark, bound), `high-water mark ${mark} over maxHeaderBytes ${bound}`);
}

function validHolds(highWater: HighWater): (input: [ScgiCase, Chunking]) => void {
  return ([request, how]) => {
    const whole = run([request.bytes], request.options);
    const split = run(cut(request.bytes, how), request.options);
    noViolations(whole);
    noViolations(split);
    assert.deepStrictEqual(whole.events, request.expected);
    assert.deepStrictEqual(split.events, request.expected);
    // In one chunk nothing waits for a later push; cut up, at most the header block does.
    assert.equal(whole.parser.highWaterMark, 0);
    assert.ok(split.parser.highWaterMark <= request.blockLength, 'held more than the header block');
    withinLimit(highWater, split, request.options);
  };
}

function anyHolds(highWater: HighWater): (input: [Buffer, ScgiParserOptions, Chunking]) => void {
  return ([bytes, options, how]) => {
    const whole = run([bytes], options);
    const split = run(cut(bytes, how), options);
    noViolations(whole);
    noViolations(split);
    assert.deepStrictEqual(split.events, whole.events, 'events depend on where the input was cut');
    // After end(), every input has ended in an error or a complete request (excess aside).
    const last = whole.events.filter((e) => e.type !== 'excess').pop();
    assert.ok(last?.type === 'error' || last?.type === 'bodyEnd', `ends with ${last?.type}`);
    for (const event of whole.events) {
      if (event.type === 'error') assert.equal(event.status, SCGI_ERROR_STATUS[event.code], event.code);
    }
    withinLimit(highWater, whole, options);
    withinLimit(highWater, split, options);
  };
}

function scgiProperties(): FuzzProperty[] {
  const valid = new HighWater();
  const broken = new HighWater();
  const noise = new HighWater();
  return [
    fuzzProperty(
      PARSER,
      'valid requests parse to their model, whole and cut anywhere',
      fc.tuple(validRequest, chunking()),
      validHolds(valid),
      valid,
    ),
    fuzzProperty(
      PARSER,
      'mutated requests: typed errors only, the same for every cut, within maxHeaderBytes',
      fc.tuple(mutated(validRequest.map((r) => r.bytes)), anyOptions, chunking()),
      anyHolds(broken),
      broken,
    ),
    fuzzProperty(
      PARSER,
      'random bytes: typed errors only, the same for every cut, within maxHeaderBytes',
      fc.tuple(randomInput, anyOptions, chunking()),
      anyHolds(noise),
      noise,
    ),
  ];
}

export const SCGI_PROPERTIES: readonly FuzzProperty[] = scgiProperties();
