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

/** The code of the UsageError `promise` rejects with (failing the test for any other outcome). */
export async function usageErrorCode(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => new Error('resolved, where a UsageError was expected'),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(UsageError);
  return (error as UsageError).code;
}
