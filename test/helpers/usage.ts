// The code of the UsageError a call throws: what the settings tests compare.
import { UsageError } from '../../src/errors';

/** The code of the UsageError `fn` throws (failing the test for any other error), or undefined. */
export function usageCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).code;
  }
  return undefined;
}
