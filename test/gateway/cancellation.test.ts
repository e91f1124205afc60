// Cancellation: the abort flag, listeners, and the AbortSignal made only on demand.
import { Cancellation } from '../../src/gateway/cancellation';

describe('Cancellation', () => {
  test('starts not aborted; abort() sets the flag once and calls each listener once', () => {
    const cancellation = new Cancellation();
    const calls: string[] = [];
    cancellation.onAbort(() => calls.push('a'));
    cancellation.onAbort(() => calls.push('b'));
    expect(cancellation.aborted).toBe(false);
    cancellation.abort();
    cancellation.abort();
    expect(cancellation.aborted).toBe(true);
    expect(calls).toEqual(['a', 'b']);
  });

  test('a listener added after the abort is called at once', () => {
    const cancellation = new Cancellation();
    cancellation.abort();
    let called = false;
    cancellation.onAbort(() => (called = true));
    expect(called).toBe(true);
  });

  test('the signal made before the abort fires with it', () => {
    const cancellation = new Cancellation();
    const signal = cancellation.signal;
    expect(signal.aborted).toBe(false);
    let fired = false;
    signal.addEventListener('abort', () => (fired = true));
    cancellation.abort();
    expect(fired).toBe(true);
    expect(cancellation.signal).toBe(signal);
  });

  test('the signal made after the abort is already aborted', () => {
    const cancellation = new Cancellation();
    cancellation.abort();
    expect(cancellation.signal.aborted).toBe(true);
  });
});
