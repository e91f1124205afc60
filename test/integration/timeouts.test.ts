// Limits and timeouts end to end: --header-timeout, --request-timeout, --idle-timeout,
// --max-concurrent on SCGI, --max-body-bytes on FastCGI, --listen-backlog.
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { startDaemon, type Daemon } from '../helpers/daemon';
import { requireBinary } from '../helpers/frontends';
import { FastCgiClient, fcgiParams, fcgiRequest, until } from '../helpers/fastcgi';
import { netConnectOptions } from '../../src/client/connect';
import { exchange, parseCgiResponse, requestVariables, scgiRequest } from '../helpers/scgi';
import { serializeScgiHeaders } from '../../src/scgi/serializer';

const APP = 'test/fixtures/apps/probe.mjs';

function abortsSeen(daemon: Daemon): number {
  return daemon.logLines().filter((l) => l.probe === 'aborted').length;
}

describe('with short timeouts', () => {
  let daemon: Daemon;
  let scgi: string;
  let fastcgi: string;

  beforeAll(async () => {
    daemon = await startDaemon(APP, [
      '--scgi', '127.0.0.1:0',
      '--fastcgi', '127.0.0.1:0',
      '--header-timeout', '400',
      '--request-timeout', '600',
      '--idle-timeout', '500',
      '--listen-backlog', '7',
      '--status-path', '/sluice-status',
    ]); // prettier-ignore
    scgi = daemon.addresses.scgi![0];
    fastcgi = daemon.addresses.fastcgi![0];
  });

  afterAll(async () => {
    expect(await daemon.stop()).toBe(0);
  });

  test('SCGI headers that never complete: 408, then the connection closes (slowloris)', async () => {
    const started = Date.now();
    const raw = await exchange(scgi, Buffer.from('70:CONTENT_LENGTH\0'), 5000);
    expect(parseCgiResponse(raw).status).toBe(408);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('FastCGI PARAMS that never complete: 408 for that request', async () => {
    const client = await FastCgiClient.connect(fastcgi);
    try {
      await client.send((await import('../../src/fastcgi/writer')).beginRequestRecord(1, 1, 1));
      const reply = await client.waitEnd(1, 5000);
      expect(reply.response().status).toBe(408);
    } finally {
      client.destroy();
    }
  });

  test.each(['scgi', 'fastcgi'])(
    '%s: past --request-timeout a 504, and the app sees its signal abort',
    async (protocol) => {
      const before = abortsSeen(daemon);
      const started = Date.now();
      const status =
        protocol === 'scgi'
          ? (await scgiRequest(scgi, requestVariables('GET', '/wait-abort'), undefined, 5000)).status
          : (await fcgiRequest(fastcgi, { params: fcgiParams('GET', '/wait-abort') }, 5000)).response()
              .status;
      expect(status).toBe(504);
      expect(Date.now() - started).toBeLessThan(2500);
      await until(
        () => abortsSeen(daemon) > before,
        2000,
        () => daemon.logs(),
      );
    },
  );

  test('a response that breaks after its head counts as an error in the status, over both protocols', async () => {
    const errors = async (): Promise<number> =>
      JSON.parse((await scgiRequest(scgi, requestVariables('GET', '/sluice-status'))).body.toString()).totals
        .errors as number;
    const before = await errors();
    const head = serializeScgiHeaders(requestVariables('GET', '/error-after-head'), 0);
    expect(parseCgiResponse(await exchange(scgi, head, 5000)).status).toBe(200);
    const reply = await fcgiRequest(fastcgi, { params: fcgiParams('GET', '/error-after-head') }, 5000);
    expect([reply.response().status, reply.end?.appStatus]).toEqual([200, 1]);
    expect(await errors()).toBe(before + 2);
  });

  test('a kept-alive FastCGI connection idle past --idle-timeout is closed by the daemon', async () => {
    const client = await FastCgiClient.connect(fastcgi);
    try {
      client.replies.delete(1);
      const reply = await client.request(1, { params: fcgiParams('GET', '/env') });
      expect(reply.response().status).toBe(200);
      await until(
        () => client.closed,
        3000,
        () => 'connection still open',
      );
      expect(client.closedAt!).toBeGreaterThanOrEqual(400);
    } finally {
      client.destroy();
    }
  });

  (requireBinary('ss') ? test : test.skip)(
    '--listen-backlog reaches the kernel (ss shows it as Send-Q)',
    async () => {
      const port = scgi.split(':').pop();
      const listing = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
      expect(listing.trim().split(/\s+/).slice(0, 3)).toEqual(['LISTEN', '0', '7']);
      const response = await scgiRequest(scgi, requestVariables('GET', '/sluice-status'));
      expect(JSON.parse(response.body.toString()).listeners[0]).toMatchObject({
        protocol: 'scgi',
        backlog: 7,
        queued: 0,
      });
    },
  );
});

test('SCGI over --max-concurrent: 503 while the slot is taken, served again after', async () => {
  const daemon = await startDaemon(APP, ['--scgi', '127.0.0.1:0', '--max-concurrent', '1']);
  try {
    const address = daemon.addresses.scgi![0];
    const slow = scgiRequest(address, requestVariables('GET', '/slow?ms=600'));
    await new Promise((r) => setTimeout(r, 200));
    expect((await scgiRequest(address, requestVariables('GET', '/env'))).status).toBe(503);
    expect((await slow).status).toBe(200);
    expect((await scgiRequest(address, requestVariables('GET', '/env'))).status).toBe(200);
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
});

test('FastCGI over --max-body-bytes: 413 before the app runs', async () => {
  const daemon = await startDaemon(APP, ['--fastcgi', '127.0.0.1:0', '--max-body-bytes', '10']);
  try {
    const reply = await fcgiRequest(daemon.addresses.fastcgi![0], {
      params: fcgiParams('POST', '/hash', [['CONTENT_LENGTH', '11']]),
      stdin: Buffer.from('0123456789A'),
    });
    expect(reply.response().status).toBe(413);
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
});

test('a TCP connection that sends nothing is closed after --header-timeout', async () => {
  const daemon = await startDaemon(APP, ['--scgi', '127.0.0.1:0', '--header-timeout', '300']);
  try {
    const socket = net.connect(netConnectOptions(daemon.addresses.scgi![0]));
    const closed = new Promise<number>((resolve) => {
      const opened = Date.now();
      socket.on('close', () => resolve(Date.now() - opened));
      socket.on('error', () => undefined);
      socket.resume();
    });
    expect(await closed).toBeLessThan(2000);
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
});

// Found by the fault suite: a FastCGI connection that never sent a byte counted as a kept-alive one
// between requests and stayed open for the whole --idle-timeout (120 s by default).
test('a FastCGI connection that never begins a request is closed after --header-timeout, not --idle-timeout', async () => {
  const daemon = await startDaemon(APP, [
    ...['--fastcgi', '127.0.0.1:0', '--header-timeout', '300', '--idle-timeout', '60000'],
  ]);
  try {
    const client = await FastCgiClient.connect(daemon.addresses.fastcgi![0]);
    try {
      expect(await client.closesWithin(3000)).toBe(true);
      expect(client.closedAt!).toBeGreaterThanOrEqual(250);
    } finally {
      client.destroy();
    }
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
});
