// Request loops for tests that change the daemon under load: each keeps requests going until told to
// stop and counts what was sent, what failed and what the answers said.
import * as http from 'node:http';
import { FastCgiClient, fcgiParams } from './fastcgi';
import { requestVariables, scgiRequest } from './scgi';

export interface LoopResult {
  sent: number;
  failed: number;
  /** The first few failures, for the test's message. */
  errors: string[];
  /** Every distinct answer body's first word (the app's version), in the order first seen. */
  versions: string[];
}

export interface Loop {
  readonly result: LoopResult;
  /** Stops after the request in flight and resolves with the counts. */
  stop(): Promise<LoopResult>;
}

type Exchange = (n: number) => Promise<{ status: number; body: string }>;

/** `close`: what the loop holds open between requests, closed once it stopped. */
function loop(exchange: Exchange, close: () => void = () => {}): Loop {
  const result: LoopResult = { sent: 0, failed: 0, errors: [], versions: [] };
  let running = true;
  const done = (async () => {
    while (running) {
      const n = result.sent++;
      try {
        const { status, body } = await exchange(n);
        if (status !== 200) throw new Error(`status ${status}: ${body.slice(0, 200)}`);
        const version = body.split(' ')[0];
        if (!result.versions.includes(version)) result.versions.push(version);
      } catch (error) {
        result.failed++;
        if (result.errors.length < 5) result.errors.push(`#${n}: ${(error as Error).message}`);
      }
      // A failure can settle without any I/O: never starve the timers the test waits on.
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  return {
    result,
    async stop() {
      running = false;
      await done;
      close();
      return result;
    },
  };
}

/** SCGI, a connection per request, GET and POST alternately. */
export function scgiLoop(address: string): Loop {
  return loop(async (n) => {
    const post = n % 2 === 1;
    const body = post ? Buffer.from(`post ${n}`) : undefined;
    const vars = requestVariables(post ? 'POST' : 'GET', `/loop/${n}`);
    const response = await scgiRequest(address, vars, body);
    return { status: response.status, body: response.body.toString() };
  });
}

/** FastCGI over one kept-alive connection (reconnecting only if the daemon closed it), GET and POST alternately. */
export function fastcgiLoop(address: string): Loop {
  let client: FastCgiClient | null = null;
  return loop(
    async (n) => {
      if (client === null || client.closed) client = await FastCgiClient.connect(address);
      const post = n % 2 === 1;
      // The client keeps replies by id: the previous request's would answer this one.
      client.replies.delete(1);
      // Short: a request lost with a killed worker only shows as a connection closed without a reply.
      const reply = await client.request(
        1,
        {
          params: fcgiParams(post ? 'POST' : 'GET', `/loop/${n}`, post ? [['CONTENT_LENGTH', '9']] : []),
          stdin: post ? Buffer.from('post body') : undefined,
        },
        3000,
      );
      if (reply.end === undefined)
        throw new Error(`no END_REQUEST: ${client.error?.message ?? 'connection closed'}`);
      const response = reply.response();
      return { status: response.status, body: response.body.toString() };
    },
    () => client?.destroy(),
  );
}

/** HTTP through a front end with kept-alive client connections, POSTs only (nginx never retries them). */
export function httpPostLoop(port: number, agent: http.Agent): Loop {
  return loop(
    (n) =>
      new Promise((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: `/loop/${n}`,
            agent,
            headers: { 'Content-Length': 9 },
          },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (body += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
            res.on('error', reject);
          },
        );
        req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end('post body');
      }),
  );
}
