// SCGI through real front ends started from the shipped configs: nginx scgi_pass, Apache mod_proxy_scgi, lighttpd mod_scgi.
import { startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { requireBinary, startFrontEnd, type FrontEnd, type FrontEndName } from '../helpers/frontends';
import { interopCases } from './interop-cases';

const FRONT_ENDS: Array<[FrontEndName, string, 'unix' | 'tcp']> = [
  ['nginx', 'deploy/nginx/sluice-scgi.conf', 'unix'],
  ['apache', 'deploy/apache/sluice-scgi.conf', 'unix'],
  ['lighttpd', 'deploy/lighttpd/sluice-scgi.conf', 'tcp'],
];
const available = FRONT_ENDS.filter(([name]) => requireBinary(name));

let daemon: Daemon;
const frontEnds = new Map<FrontEndName, FrontEnd>();

beforeAll(async () => {
  daemon = await startDaemon('test/fixtures/apps/probe.mjs', [
    '--scgi',
    'unix:' + tempSocketPath('scgi.sock'),
    '--scgi',
    '127.0.0.1:0',
    '--socket-mode',
    '0666',
  ]);
  const [unix, tcp] = daemon.addresses.scgi!;
  const results = await Promise.allSettled(
    available.map(async ([name, file, via]) => {
      frontEnds.set(name, await startFrontEnd(name, file, { scgi: via === 'unix' ? unix : tcp }));
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}, 60_000);

afterAll(async () => {
  await Promise.all([...frontEnds.values()].map((f) => f.stop()));
  if (daemon) expect(await daemon.stop()).toBe(0);
});

describe.each(available.map(([name]) => [name]))('%s', (name) => {
  interopCases({ frontEnd: () => frontEnds.get(name)!, daemon: () => daemon });
});
