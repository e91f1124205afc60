// Started as a web server starts a FastCGI app (spec §2.2): the listening socket on fd 0
// (FCGI_LISTENSOCK_FILENO), put there by test/helpers/listen-fd0.py as spawn-fcgi does.
import * as path from 'node:path';
import { REPO_ROOT, startDaemon, tempSocketPath } from '../helpers/daemon';
import { fcgiParams, fcgiRequest } from '../helpers/fastcgi';
import { freePort, requireBinary } from '../helpers/frontends';

const LISTEN_FD0 = path.join(REPO_ROOT, 'test', 'helpers', 'listen-fd0.py');
const hasPython = requireBinary('python3');
const maybe = hasPython ? test : test.skip;

/** The launcher that puts `what` on fd 0, then execs sluice. */
function onFd0(what: string): string[] {
  return ['python3', LISTEN_FD0, what, '--'];
}

async function envOf(address: string): Promise<Record<string, string>> {
  const reply = await fcgiRequest(address, { params: fcgiParams('GET', '/env') });
  return JSON.parse(reply.response().body.toString()) as Record<string, string>;
}

describe('--fastcgi fd:0', () => {
  maybe.each([['0'], ['2']])(
    'serves on the listening Unix socket on fd 0 with --workers %s',
    async (workers) => {
      const socket = tempSocketPath('fd0.sock');
      const daemon = await startDaemon(
        'test/fixtures/apps/probe.mjs',
        ['--fastcgi', 'fd:0', '--workers', workers],
        { launcher: onFd0('unix:' + socket) },
      );
      try {
        expect(daemon.addresses.fastcgi).toEqual(['fd:0']);
        for (let i = 0; i < 4; i++)
          expect(await envOf('unix:' + socket)).toMatchObject({ 'sluice.protocol': 'fastcgi' });
      } finally {
        expect(await daemon.stop()).toBe(0);
      }
    },
    30_000,
  );

  maybe(
    'serves on a listening TCP socket on fd 0',
    async () => {
      const port = await freePort();
      const daemon = await startDaemon('test/fixtures/apps/probe.mjs', ['--fastcgi', 'fd:0'], {
        launcher: onFd0(`tcp:127.0.0.1:${port}`),
      });
      try {
        expect(await envOf(`127.0.0.1:${port}`)).toMatchObject({ 'sluice.protocol': 'fastcgi' });
      } finally {
        expect(await daemon.stop()).toBe(0);
      }
    },
    30_000,
  );
});
