// Socket files at exit: removed while still this process's, left alone once another socket replaced them.
// Before the imports, so that socket-file.ts gets this lstat(): the test of a successor moving in
// between the look at the path and the removal runs `mockAfterNextLook` right after it, and
// `mockLinksRefused` makes link() fail.
jest.mock('node:fs/promises', () => {
  const actual = jest.requireActual<typeof import('node:fs/promises')>('node:fs/promises');
  return {
    ...actual,
    lstat: async (...args: Parameters<typeof actual.lstat>) => {
      const stats = await actual.lstat(...args);
      const then = mockAfterNextLook;
      mockAfterNextLook = null;
      then?.();
      return stats;
    },
    link: async (...args: Parameters<typeof actual.link>) => {
      if (mockLinksRefused) throw Object.assign(new Error('link refused'), { code: 'EPERM' });
      return actual.link(...args);
    },
  };
});

import { existsSync, lstatSync, readdirSync, renameSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import net from 'node:net';
import { removeOwnSocketFile, type OwnSocketFile } from '../../src/process/socket-file';
import { recordingLogger, silentLog } from '../helpers/gateway';
import { tempSocketPath } from '../helpers/daemon';

let mockAfterNextLook: (() => void) | null = null;
/** link() fails as under fs.protected_hardlinks for another user's socket. */
let mockLinksRefused = false;

function connects(path: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const client = net.connect(path, () => {
      client.destroy();
      resolve();
    });
    client.once('error', reject);
  });
}

/**
 * A socket listening at `path`, bound under another name and renamed into place as the daemon does:
 * closing a listener bound at the path itself would unlink the path, whoever's file it is by then.
 */
async function listening(path: string): Promise<{ server: net.Server; file: OwnSocketFile }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(`${path}.bound`, resolve));
  renameSync(`${path}.bound`, path);
  const stats = lstatSync(path);
  return { server, file: { path, dev: stats.dev, ino: stats.ino } };
}

describe('removeOwnSocketFile', () => {
  test('removes the file it made', async () => {
    const path = tempSocketPath('own.sock');
    const { server, file } = await listening(path);
    await removeOwnSocketFile(file, silentLog);
    expect(existsSync(path)).toBe(false);
    server.close();
  });

  test("leaves a successor's socket renamed over the path", async () => {
    const path = tempSocketPath('taken.sock');
    const old = await listening(path);
    const successor = await listening(`${path}.next`);
    renameSync(`${path}.next`, path);
    await removeOwnSocketFile(old.file, silentLog);
    expect(lstatSync(path).ino).toBe(successor.file.ino);
    await connects(path);
    old.server.close();
    successor.server.close();
  });

  test.each([
    ['linked back', false],
    ['renamed back where links are refused', true],
  ])(
    "a successor's socket renamed over the path just after the look at it is kept (%s)",
    async (_, refused) => {
      const path = tempSocketPath('race.sock');
      mockLinksRefused = refused;
      const old = await listening(path);
      old.server.close();
      const successor = await listening(`${path}.next`);
      mockAfterNextLook = () => renameSync(`${path}.next`, path);
      const { log, lines } = recordingLogger();
      try {
        await removeOwnSocketFile(old.file, log);
        expect(mockAfterNextLook).toBeNull();
        expect(lstatSync(path).ino).toBe(successor.file.ino);
        await connects(path);
        // Nothing left beside it: the name the file was moved aside to is gone again.
        expect(readdirSync(dirname(path)).filter((name) => name.startsWith(basename(path)))).toEqual([
          basename(path),
        ]);
        expect(lines.map((line) => line.msg)).toEqual([
          'socket file now belongs to another server: left in place',
        ]);
      } finally {
        mockLinksRefused = false;
        successor.server.close();
      }
    },
  );

  test('a file gone already is fine', async () => {
    await expect(
      removeOwnSocketFile({ path: tempSocketPath('gone.sock'), dev: 1, ino: 1 }, silentLog),
    ).resolves.toBeUndefined();
  });
});
