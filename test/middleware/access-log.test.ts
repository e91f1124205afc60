// accessLog: one line per request after the response, JSON fields or Common/Combined Log Format.
import { Readable } from 'node:stream';
import { accessLog, logLine, type AccessRecord } from '../../src/middleware/access-log';
import { runApp } from '../../src/gateway/driver';
import type { App } from '../../src/gateway/types';
import { FakeTransport, makeEnviron, recordingLogger } from '../helpers/gateway';

const RECORD: AccessRecord = {
  remote: '192.0.2.1',
  user: 'frank',
  method: 'GET',
  uri: '/apache_pb.gif',
  protocol: 'HTTP/1.0',
  status: 200,
  bytes: 2326,
  durationMs: 1,
  referer: 'http://www.example.com/start.html',
  userAgent: 'Mozilla/4.08 "quoted"',
};

test('Common and Combined Log Format, as Apache writes them', () => {
  const when = new Date(2000, 9, 10, 13, 55, 36);
  const zone = /:36 ([+-]\d{4})\]/.exec(logLine(RECORD, 'common', when))![1];
  expect(logLine(RECORD, 'common', when)).toBe(
    `192.0.2.1 - frank [10/Oct/2000:13:55:36 ${zone}] "GET /apache_pb.gif HTTP/1.0" 200 2326`,
  );
  expect(logLine(RECORD, 'combined', when)).toBe(
    `192.0.2.1 - frank [10/Oct/2000:13:55:36 ${zone}] "GET /apache_pb.gif HTTP/1.0" 200 2326 ` +
      `"http://www.example.com/start.html" "Mozilla/4.08 \\"quoted\\""`,
  );
  expect(logLine({ ...RECORD, bytes: 0, user: undefined }, 'common', when)).toMatch(/ - - \[.* 200 -$/);
});

async function logged(app: App, format: 'json' | 'combined'): Promise<Record<string, unknown>[]> {
  const { log, lines } = recordingLogger();
  const transport = new FakeTransport();
  const environ = makeEnviron({
    vars: { REQUEST_URI: '/x?y=1', REMOTE_ADDR: '127.0.0.1', HTTP_USER_AGENT: 'curl' },
    signal: transport.signal,
  });
  await runApp(accessLog({ format, log })(app), environ, transport);
  return lines.filter((l) => 'access' in l);
}

test('one line after a streamed response, with its status and body bytes (writes included)', async () => {
  const lines = await logged((_e, start) => {
    const write = start('201 Created', []);
    void write('abc');
    return Readable.from(['de', 'f']);
  }, 'combined');
  expect(lines).toHaveLength(1);
  expect(lines[0].access).toMatchObject({
    status: 201,
    bytes: 6,
    method: 'GET',
    uri: '/x?y=1',
    userAgent: 'curl',
  });
  expect(lines[0].msg).toMatch(/^127\.0\.0\.1 - - \[.*\] "GET \/x\?y=1 HTTP\/1\.1" 201 6 "-" "curl"$/);
});

test('an app that throws is logged as 500', async () => {
  const lines = await logged(() => {
    throw new Error('x');
  }, 'json');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ msg: 'request', access: { status: 500, bytes: 0 } });
});
