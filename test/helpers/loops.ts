// Request loops for tests that change the daemon under load: each keeps requests going until told to
// stop and counts what was sent, what failed and what the answers said.
import { createHash } from 'node:crypto';
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
  /** Each failed request: its number, as its exchange was given it, and what went wrong. */
  failures: { n: number; message: string }[];
}

export interface Loop {
  readonly result: LoopResult;
  /** Stops after the request in flight and resolves with the counts. */
  stop(): Promise<LoopResult>;
}

type Exchange = (n: number) => Promise<{ status: number; body: string }>;

/**
 * `close`: what the loop holds open between requests, closed once it stopped. `pauseMs`: a wait
 * between requests, for a paced load that leaves the cores to the daemon and the front end.
 */
function loop(exchange: Exchange, close: () => void = () => {}, pauseMs = 0): Loop {
  const result: LoopResult = { sent: 0, failed: 0, errors: [], versions: [], failures: [] };
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
        const message = (error as Error).message;
        result.failures.push({ n, message });
        if (result.errors.length < 5) result.errors.push(`#${n}: ${message}`);
      }
      // A failure can settle without any I/O: never starve the timers the test waits on.
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      else await new Promise((resolve) => setImmediate(resolve));
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
  return loop((n) => httpExchange(port, agent, 'POST', `/loop/${n}`, Buffer.from('post body')));
}

/** One HTTP exchange through a front end, the whole answer read. */
function httpExchange(
  port: number,
  agent: http.Agent,
  method: string,
  path: string,
  body?: Buffer,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'Content-Length': body.length };
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * HTTP through a front end to the probe app's /hash, GETs and 64 KiB POSTs alternately, `pauseMs`
 * apart, each answer checked against the hash of what was sent. The query names the loop and the
 * request (`/hash?loop=L&n=N`), so a failure can be found in the front end's error log.
 */
export function httpHashLoop(port: number, agent: http.Agent, name: string, pauseMs: number): Loop {
  return loop(
    async (n) => {
      const post = n % 2 === 1;
      const body = post ? Buffer.alloc(64 * 1024, `${name}:${n};`) : Buffer.alloc(0);
      const path = `/hash?loop=${name}&n=${n}`;
      const answer = await httpExchange(port, agent, post ? 'POST' : 'GET', path, post ? body : undefined);
      if (answer.status !== 200) return answer;
      const sha256 = createHash('sha256').update(body).digest('hex');
      const got = JSON.parse(answer.body) as { sha256: string };
      if (got.sha256 !== sha256) throw new Error(`${path}: hash ${got.sha256}, sent ${sha256}`);
      return { status: 200, body: 'hash-checked' };
    },
    () => undefined,
    pauseMs,
  );
}
