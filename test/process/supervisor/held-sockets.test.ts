// The primary holds listening sockets through node:net's internal _createServerHandle: these tests
// pin what it relies on, so that a Node release that changes it fails here, by name, not in production.
import { existsSync, lstatSync } from 'node:fs';
import net from 'node:net';
import { canHoldSockets, holdSockets, type HeldSocket } from '../../../src/process/supervisor/held-sockets';
import { socketBindingName } from '../../../src/common/address';
import { tempSocketPath } from '../../helpers/daemon';

const sockets = { mode: 0o660, backlog: 16, shared: false };

function connects(options: net.NetConnectOpts): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(options);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('held sockets', () => {
  test('node:net still has _createServerHandle(address, port, addressType, fd, flags)', () => {
    const factory = (net as unknown as { _createServerHandle?: unknown })._createServerHandle;
    if (typeof factory !== 'function' || factory.length !== 5) {
      throw new Error(
        `node:net._createServerHandle changed in Node ${process.version} (now ${typeof factory}, ` +
          `${(factory as ((...a: unknown[]) => unknown) | undefined)?.length} parameters): ` +
          'the primary can no longer hold its listening sockets (src/process/supervisor/held-sockets.ts)',
      );
    }
    expect(canHoldSockets()).toBe(true);
  });

  test('a held Unix socket and TCP port take connections into the backlog, with no process accepting', async () => {
    const path = tempSocketPath('held.sock');
    const held: HeldSocket[] = await holdSockets(
      [
        { kind: 'unix', path },
        { kind: 'tcp', host: '127.0.0.1', port: 0 },
      ],
      sockets,
    );
    const opened: net.Socket[] = [];
    try {
      expect(held.map((h) => typeof h.fd)).toEqual(['number', 'number']);
      const [unix, tcp] = held;
      // The file is the listening socket itself, renamed into place; the name it was bound under is gone.
      expect(lstatSync(path).ino).toBe(unix.file!.ino);
      expect(lstatSync(path).mode & 0o777).toBe(0o660);
      expect(existsSync(socketBindingName(path, process.pid))).toBe(false);
      const port = tcp.address.kind === 'tcp' ? tcp.address.port : 0;
      expect(port).toBeGreaterThan(0);
      opened.push(await connects({ path }), await connects({ host: '127.0.0.1', port }));
    } finally {
      for (const socket of opened) socket.destroy();
      for (const h of held) h.handle.close();
    }
  });

  test('a port in use is ERR_LISTEN, the number _createServerHandle returns turned into its name', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as net.AddressInfo;
    try {
      await expect(holdSockets([{ kind: 'tcp', host: '127.0.0.1', port }], sockets)).rejects.toMatchObject({
        code: 'ERR_LISTEN',
        message: expect.stringContaining('EADDRINUSE'),
      });
    } finally {
      busy.close();
    }
  });
});
