// The cases every front end must pass, whichever protocol it speaks to the daemon.
import { startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { requireBinary, startFrontEnd, type FrontEnd, type FrontEndName } from '../helpers/frontends';
import { patternStream, request, requestAndAbort, requestStream } from '../helpers/http';
import { pattern, sha256 } from '../helpers/bytes';

const MiB = 1024 * 1024;

export async function waitForLog(
  daemon: Daemon,
  test: (line: Record<string, unknown>) => boolean,
  ms = 8000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const line = daemon.logLines().find(test);
    if (line !== undefined) return line;
    if (Date.now() > deadline)
      throw new Error(`log line not seen within ${ms} ms:\n${daemon.logs().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface CaseTarget {
  frontEnd(): FrontEnd;
  daemon(): Daemon;
  /** Path prefix the front end maps to the app (default none). */
  prefix?: string;
  /**
   * How the front end treats a chunked request body of unknown length: passes it on (default), or
   * refuses it itself (HAProxy 2.6 answers 400 before reaching a FastCGI app).
   */
  chunkedUploads?: 'passed' | 'refused';
}

/** Registers the standard interop cases for one front end in the current describe block. */
function interopCases(target: CaseTarget): void {
  const port = (): number => target.frontEnd().port;
  const at = (path: string): string => (target.prefix ?? '') + path;
  const withLogs = async (run: () => Promise<void>): Promise<void> => {
    try {
      await run();
    } catch (error) {
      (error as Error).message += `\n--- front end logs ---\n${target.frontEnd().errorLog().slice(-3000)}`;
      throw error;
    }
  };

  test('GET with a query string and repeated headers', () =>
    withLogs(async () => {
      const response = await request({
        port: port(),
        path: at('/env?x=1&y=two%20words'),
        headers: { 'X-Repeated': ['one', 'two'], Cookie: 'a=1' },
      });
      expect(response.status).toBe(200);
      const environ = JSON.parse(response.body.toString());
      expect(environ).toMatchObject({
        REQUEST_METHOD: 'GET',
        QUERY_STRING: 'x=1&y=two%20words',
        PATH_INFO: '/env',
        HTTP_X_REPEATED: 'one, two',
        HTTP_COOKIE: 'a=1',
      });
    }));

  test('POST of 10 MiB arrives intact (checked by hash)', () =>
    withLogs(async () => {
      const body = pattern(10 * MiB);
      const response = await request({
        port: port(),
        method: 'POST',
        path: at('/hash'),
        body,
        timeoutMs: 30_000,
      });
      expect(response.status).toBe(200);
      expect(JSON.parse(response.body.toString())).toMatchObject({
        bytes: body.length,
        sha256: sha256(body),
      });
    }));

  test('a 10 MiB response streams through intact (checked by hash)', () =>
    withLogs(async () => {
      const size = 10 * MiB;
      const response = await requestStream({
        port: port(),
        path: at(`/stream?bytes=${size}`),
        timeoutMs: 30_000,
      });
      expect(response.status).toBe(200);
      expect(response.bytes).toBe(size);
      expect(response.sha256).toBe(sha256(pattern(size)));
    }));

  test('a 404 from the app reaches the client', () =>
    withLogs(async () => {
      const response = await request({ port: port(), path: at('/missing') });
      expect(response.status).toBe(404);
      expect(response.body.toString()).toBe('no such thing\n');
    }));

  test('an app error gives the client a 500', () =>
    withLogs(async () => {
      const response = await request({ port: port(), path: at('/error') });
      expect(response.status).toBe(500);
      expect(response.body.toString()).not.toContain('at ');
    }));

  test('repeated response headers and the status line come through', () =>
    withLogs(async () => {
      const response = await request({ port: port(), path: at('/headers') });
      expect(response.status).toBe(201);
      expect(response.headers['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(response.headers['x-probe']).toBe('yes');
    }));

  test('a client that disconnects mid-response stops the app', () =>
    withLogs(async () => {
      const finished = (l: Record<string, unknown>): boolean =>
        l.probe === 'drip-finished' && l.aborted === true;
      const before = target.daemon().logLines().filter(finished).length;
      const response = await requestAndAbort({ port: port(), path: at('/drip'), abortAfterBytes: 20 });
      expect(response.complete).toBe(false);
      await waitForLog(
        target.daemon(),
        () => target.daemon().logLines().filter(finished).length > before,
        15_000,
      );
    }));

  if (target.chunkedUploads === 'refused') {
    test('a chunked upload is refused by the front end itself; the daemon keeps serving', () =>
      withLogs(async () => {
        const outcome = await request({
          port: port(),
          method: 'POST',
          path: at('/hash'),
          body: patternStream(3 * MiB),
          timeoutMs: 30_000,
        }).then(
          (response) => response.status,
          (error: NodeJS.ErrnoException) => error.code,
        );
        expect([400, 411, 'EPIPE', 'ECONNRESET']).toContain(outcome);
        expect((await request({ port: port(), path: at('/missing') })).status).toBe(404);
      }));
    return;
  }

  test('a chunked upload of unknown length arrives intact', () =>
    withLogs(async () => {
      const body = patternStream(3 * MiB);
      const response = await request({
        port: port(),
        method: 'POST',
        path: at('/hash'),
        body,
        timeoutMs: 30_000,
      });
      // Apache refuses chunked bodies towards SCGI (411); front ends that accept them must deliver them whole.
      if (response.status === 411) return;
      expect(response.status).toBe(200);
      expect(JSON.parse(response.body.toString())).toMatchObject({ bytes: 3 * MiB, sha256: body.digest() });
    }));
}

/** One front end running one shipped config, pointed at the daemon's Unix or TCP listener. */
export interface InteropTarget {
  label: string;
  name: FrontEndName;
  file: string;
  via: 'unix' | 'tcp';
  chunkedUploads?: 'passed' | 'refused';
}

export interface InteropSuite {
  daemon(): Daemon;
  frontEnd(label: string): FrontEnd;
  /** The targets whose front end is installed (all of them under CI=true, or the file fails). */
  available: InteropTarget[];
}

/**
 * Starts one daemon (probe app, a Unix and a TCP listener of `protocol`) and every available front
 * end for the file, stops them afterwards, and registers the standard cases for each front end.
 */
export function interopSuite(
  protocol: 'scgi' | 'fastcgi',
  targets: InteropTarget[],
  daemonArgs: string[] = [],
): InteropSuite {
  const available = targets.filter((t) => requireBinary(t.name));
  let daemon: Daemon;
  const frontEnds = new Map<string, FrontEnd>();

  beforeAll(async () => {
    daemon = await startDaemon('test/fixtures/apps/probe.mjs', [
      `--${protocol}`,
      'unix:' + tempSocketPath(`${protocol}.sock`),
      `--${protocol}`,
      '127.0.0.1:0',
      '--socket-mode',
      '0666',
      ...daemonArgs,
    ]);
    const [unix, tcp] = daemon.addresses[protocol]!;
    const results = await Promise.allSettled(
      available.map(async (t) => {
        frontEnds.set(
          t.label,
          await startFrontEnd(t.name, t.file, { [protocol]: t.via === 'unix' ? unix : tcp }),
        );
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }, 60_000);

  afterAll(async () => {
    await Promise.all([...frontEnds.values()].map((f) => f.stop()));
    if (daemon) expect(await daemon.stop()).toBe(0);
  });

  const suite: InteropSuite = { daemon: () => daemon, frontEnd: (label) => frontEnds.get(label)!, available };
  describe.each(available.map((t) => [t.label, t]))('%s', (label, target) => {
    interopCases({
      frontEnd: () => suite.frontEnd(label as string),
      daemon: suite.daemon,
      chunkedUploads: (target as InteropTarget).chunkedUploads,
    });
  });
  return suite;
}
