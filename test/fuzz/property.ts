// What the jest property tests and `npm run fuzz` share: named properties, their run counts, high-water marks.
import fc from 'fast-check';

/** One property of one parser, run by jest (a few hundred inputs) and by `npm run fuzz` (hundreds of thousands). */
export interface FuzzProperty {
  /** The parser it exercises, the row group of the fuzz report. */
  readonly parser: string;
  /** What is generated and what holds, as the test name. */
  readonly name: string;
  /** Runs the property; fast-check's details say how many inputs ran and what failed. */
  check(parameters: fc.Parameters<unknown>): fc.RunDetails<unknown>;
  /** The parser's buffering seen over every input, when the property measures it. */
  readonly highWater?: HighWater;
}

/** A property over one arbitrary: `holds` returns normally when it holds and throws when it does not. */
export function fuzzProperty<T>(
  parser: string,
  name: string,
  input: fc.Arbitrary<T>,
  holds: (value: T) => void,
  highWater?: HighWater,
): FuzzProperty {
  const property = fc.property(input, holds);
  return {
    parser,
    name,
    check: (parameters) => fc.check(property, parameters as fc.Parameters<[T]>) as fc.RunDetails<unknown>,
    highWater,
  };
}

/**
 * The largest high-water mark a property saw, and the one closest to its bound. Bounds differ from
 * input to input (each may carry its own limits), so the closest is kept as a share of its bound.
 */
export class HighWater {
  /** Largest mark seen, in bytes. */
  max = 0;
  /** The mark with the largest mark / bound, and that bound. */
  closest = { mark: 0, bound: 0 };

  /** Notes one parser's mark against the bound it must respect; false when it is over. */
  note(mark: number, bound: number): boolean {
    if (mark > this.max) this.max = mark;
    if (mark * this.closest.bound > this.closest.mark * bound || this.closest.bound === 0) {
      this.closest = { mark, bound };
    }
    return mark <= bound;
  }
}

/** Inputs per property under plain `npm test`: enough to catch a regression, a few seconds in all. */
const DEFAULT_RUNS = 200;

/**
 * fast-check parameters from the environment: SLUICE_FUZZ_RUNS inputs per property (default 200),
 * SLUICE_FUZZ_SEED (and SLUICE_FUZZ_PATH) to replay a failure fast-check reported.
 */
export function fuzzParameters(): fc.Parameters<unknown> {
  const env = process.env;
  const numRuns = env.SLUICE_FUZZ_RUNS === undefined ? DEFAULT_RUNS : Number(env.SLUICE_FUZZ_RUNS);
  if (!Number.isInteger(numRuns) || numRuns < 1) {
    throw new RangeError(`SLUICE_FUZZ_RUNS must be a positive integer: ${env.SLUICE_FUZZ_RUNS}`);
  }
  const parameters: fc.Parameters<unknown> = { numRuns };
  if (env.SLUICE_FUZZ_SEED !== undefined) parameters.seed = Number(env.SLUICE_FUZZ_SEED);
  if (env.SLUICE_FUZZ_PATH !== undefined) parameters.path = env.SLUICE_FUZZ_PATH;
  return parameters;
}
