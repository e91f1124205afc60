// Emptying the listeners' accept queues before they close: what the kernel queued is served, not reset.
import { setImmediate as nextCheck } from 'node:timers/promises';

/**
 * Resolves once the connections the kernel had queued on this process's listeners when called have
 * been accepted. Closing a listener resets every connection still in its queue, and nginx does not
 * resend a request it has written (a POST then fails with a 502), so a stopping process first takes
 * its socket files away, so that no more arrive, then calls this, then closes.
 *
 * libuv accepts one connection per listener in each turn of the event loop, so turns are taken until
 * one accepts nothing (`accepted` counts every connection accepted). At most `backlog` + 1 of them,
 * what a queue can hold on Linux: a TCP listener, which has no file to take away, keeps receiving
 * connections until it closes, and those that came after the stop began are not waited for.
 */
export async function acceptQueued(accepted: () => number, backlog: number): Promise<void> {
  for (let turn = 0; turn <= backlog; turn++) {
    const before = accepted();
    // The first runs in this turn's check phase (or the next turn's), the second after a whole
    // poll phase more: the one in which libuv accepts.
    await nextCheck();
    await nextCheck();
    if (accepted() === before) return;
  }
}
