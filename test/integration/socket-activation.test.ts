// systemd socket activation as systemd does it: sockets passed as fd 3, 4 with LISTEN_FDS, LISTEN_PID
// and LISTEN_FDNAMES, by systemd-socket-activate (from the systemd package), for both protocols.
import { activate, stopActivated as stop } from '../helpers/activate';
import { requireBinary } from '../helpers/frontends';
import { tempSocketPath } from '../helpers/daemon';
import { fcgiParams, fcgiRequest, until } from '../helpers/fastcgi';
import { requestVariables, scgiRequest } from '../helpers/scgi';

const hasActivator = requireBinary('systemd-socket-activate');

describe.each([
  ['--workers', '2'],
  ['--workers', '0'],
])('%s %s', (flag, value) => {
  (hasActivator ? test : test.skip)(
    'serves SCGI and FastCGI on inherited Unix sockets named for their protocol',
    async () => {
      const scgi = tempSocketPath('scgi.sock');
      const fastcgi = tempSocketPath('fastcgi.sock');
      const { child, logs } = activate(
        ['-l', scgi, '--fdname=scgi', '-l', fastcgi, '--fdname=fastcgi'],
        [flag, value, '--log-level', 'info'],
      );
      try {
        // It binds the file before it listens: its own line says when connecting works.
        await until(() => (logs().match(/Listening on/g) ?? []).length === 2, 5000, logs);
        // systemd-socket-activate starts sluice on the first connection, which waits in the backlog.
        const first = await scgiRequest('unix:' + scgi, requestVariables('GET', '/env'), undefined, 15_000);
        expect(JSON.parse(first.body.toString())).toMatchObject({
          PATH_INFO: '/env',
          'sluice.protocol': 'scgi',
        });
        const reply = await fcgiRequest('unix:' + fastcgi, { params: fcgiParams('GET', '/env') });
        expect(JSON.parse(reply.response().body.toString())).toMatchObject({ 'sluice.protocol': 'fastcgi' });
        await until(() => logs().includes('"msg":"ready"'), 5000, logs);
        expect(logs()).toMatch(/"protocol":"scgi","address":"fd:3","fdName":"scgi"/);
        expect(logs()).toMatch(/"protocol":"fastcgi","address":"fd:4","fdName":"fastcgi"/);
        if (value !== '0') {
          // A worker that dies is replaced on the same inherited socket, which the primary keeps open.
          const pid = Number(/"slot":1,"workerPid":(\d+)/.exec(logs())![1]);
          process.kill(pid, 'SIGKILL');
          await until(() => (logs().match(/"msg":"worker started"/g) ?? []).length >= 3, 5000, logs);
          await new Promise((r) => setTimeout(r, 300));
          for (let i = 0; i < 4; i++) {
            expect((await scgiRequest('unix:' + scgi, requestVariables('GET', '/env'))).status).toBe(200);
          }
        }
      } finally {
        expect(await stop(child)).toBe(0);
      }
    },
    30_000,
  );
});

(hasActivator ? test : test.skip)(
  'a socket named for no protocol is a start-up error naming it',
  async () => {
    const socket = tempSocketPath('x.sock');
    const { child, logs } = activate(['-l', socket, '--fdname=web'], []);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await until(() => logs().includes('Listening on'), 5000, logs);
    scgiRequest('unix:' + socket, requestVariables('GET', '/'), undefined, 5000).catch(() => undefined);
    expect(await exited).toBe(2);
    expect(logs()).toContain('named "web"');
  },
  20_000,
);
