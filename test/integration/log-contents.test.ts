// What the daemon logs about requests: metadata, never credentials or bodies. Secrets are sent in
// Authorization, Cookie and the body over every listener, with every log on (trace level, the
// access log, a slow log that catches each request, an app that fails), and must appear nowhere in
// what the daemon wrote. docs/security.md ("What is logged") rests on this.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { fcgiRequest } from '../helpers/fastcgi';
import { request } from '../helpers/http';
import { requestVariables, scgiRequest } from '../helpers/scgi';

const AUTHORIZATION = 'Bearer secret-bearer-token-1f3a';
const COOKIE = 'session=secret-cookie-value-9c2e';
const BODY = 'password=secret-body-value-77d0';
const SECRETS = ['secret-bearer-token-1f3a', 'secret-cookie-value-9c2e', 'secret-body-value-77d0'];

const PROBE_APP = 'test/fixtures/apps/probe.mjs';

function secretHeaders(method: string, uri: string): Array<[string, string]> {
  return requestVariables(method, uri, [
    ['HTTP_AUTHORIZATION', AUTHORIZATION],
    ['HTTP_COOKIE', COOKIE],
    ['CONTENT_TYPE', 'application/x-www-form-urlencoded'],
  ]);
}

describe('the logs hold no credentials and no bodies', () => {
  let dir: string;
  let daemon: Daemon | undefined;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-log-contents-'));
  });
  afterEach(async () => {
    if (daemon) expect(await daemon.stop()).toBe(0);
    daemon = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('Authorization, Cookie and body values sent over SCGI, FastCGI and HTTP appear in no log', async () => {
    const accessLog = path.join(dir, 'access.log');
    daemon = await startDaemon(PROBE_APP, [
      '--scgi',
      tempSocketPath('scgi.sock'),
      '--fastcgi',
      tempSocketPath('fastcgi.sock'),
      '--http',
      '127.0.0.1:0',
      '--log-level',
      'trace',
      '--no-pretty',
      '--access-log',
      accessLog,
      '--slow-log-ms',
      '1',
    ]);
    const scgi = daemon.addresses.scgi![0];
    const fastcgi = daemon.addresses.fastcgi![0];
    const port = Number(daemon.addresses.http![0].split(':').pop());
    const body = Buffer.from(BODY);

    for (const uri of ['/echo', '/error', '/slow?ms=5']) {
      const viaScgi = await scgiRequest(scgi, secretHeaders('POST', uri), body);
      const viaFastcgi = await fcgiRequest(fastcgi, { params: secretHeaders('POST', uri), stdin: body });
      const viaHttp = await request({
        port,
        method: 'POST',
        path: uri,
        headers: { Authorization: AUTHORIZATION, Cookie: COOKIE, 'Content-Type': 'text/plain' },
        body,
      });
      const expected = uri === '/error' ? 500 : 200;
      expect([viaScgi.status, viaFastcgi.response().status, viaHttp.status]).toEqual([
        expected,
        expected,
        expected,
      ]);
    }
    const stopped = daemon;
    daemon = undefined;
    expect(await stopped.stop()).toBe(0);

    // The logs did record the requests (the access and slow logs those of the SCGI and FastCGI
    // listeners): what follows is not true of empty ones.
    const accessLines = fs.readFileSync(accessLog, 'utf8');
    expect(accessLines.split('\n').filter((line) => line.includes('"/echo"')).length).toBeGreaterThanOrEqual(
      2,
    );
    const messages = stopped.logLines().map((line) => line.msg);
    expect(messages.filter((msg) => msg === 'slow request').length).toBeGreaterThanOrEqual(2);
    expect(messages.filter((msg) => msg === 'app failed').length).toBeGreaterThanOrEqual(3);
    const everything = `${accessLines}\n${stopped.logs()}`;
    for (const secret of SECRETS) expect(everything).not.toContain(secret);
  });
});
