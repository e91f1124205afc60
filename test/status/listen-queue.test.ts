// The Unix accept queue as `ss -xln` shows it, socket paths with spaces included.
import { parseUnixListeners } from '../../src/status/listen-queue';

test('parseUnixListeners: Recv-Q of each listening stream socket, by path', () => {
  const output = [
    'u_str LISTEN 0      511    /run/sluice/fastcgi.sock 16516197 * 0',
    'u_str LISTEN 3      128    /tmp/with space/scgi.sock 16516198 * 0',
    'u_str LISTEN 0      4096   @/abstract/name 1234 * 0',
    'u_dgr UNCONN 0      0      /run/systemd/notify 99 * 0',
    '',
  ].join('\n');
  expect([...parseUnixListeners(output)]).toEqual([
    ['/run/sluice/fastcgi.sock', 0],
    ['/tmp/with space/scgi.sock', 3],
    ['@/abstract/name', 0],
  ]);
});
