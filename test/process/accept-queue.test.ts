// acceptQueued: turns of the event loop until the listeners' queues are empty, and no more than a queue holds.
import net from 'node:net';
import { acceptQueued } from '../../src/process/accept-queue';
import { tempSocketPath } from '../helpers/daemon';

describe('acceptQueued', () => {
  test('resolves once every connection already queued on a listener has been accepted', async () => {
    const server = net.createServer((socket) => socket.destroy());
    let accepted = 0;
    server.on('connection', () => accepted++);
    const path = tempSocketPath('queue.sock');
    await new Promise<void>((resolve) => server.listen(path, resolve));
    // A Unix socket's connect() is done within net.connect(): all are queued before any is accepted.
    const clients = Array.from({ length: 12 }, () => net.connect(path).on('error', () => undefined));
    try {
      await acceptQueued(() => accepted, 511);
      expect(accepted).toBe(12);
    } finally {
      for (const client of clients) client.destroy();
      server.close();
    }
  });

  test('with nothing queued, returns after one turn', async () => {
    let counted = 0;
    await acceptQueued(() => counted++ * 0, 511);
    expect(counted).toBe(2);
  });

  test('takes at most backlog + 1 turns while connections keep coming', async () => {
    let calls = 0;
    await acceptQueued(() => calls++, 3);
    // Two looks per turn.
    expect(calls).toBe(2 * 4);
  });
});
