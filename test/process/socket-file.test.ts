// Socket files at exit: removed while still this process's, left alone once another socket replaced them.
import { existsSync, lstatSync, renameSync } from 'node:fs';
import net from 'node:net';
import { removeOwnSocketFile, type OwnSocketFile } from '../../src/process/socket-file';
import { silentLog } from '../helpers/gateway';
import { tempSocketPath } from '../helpers/daemon';

async function listening(path: string): Promise<{ server: net.Server; file: OwnSocketFile }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
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
    await new Promise<void>((resolve, reject) => {
      const client = net.connect(path, () => {
        client.destroy();
        resolve();
      });
      client.once('error', reject);
    });
    old.server.close();
    successor.server.close();
  });

  test('a file gone already is fine', async () => {
    await expect(
      removeOwnSocketFile({ path: tempSocketPath('gone.sock'), dev: 1, ino: 1 }, silentLog),
    ).resolves.toBeUndefined();
  });
});
