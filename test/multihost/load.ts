// The rig's client: a paced load of GETs and 64 KiB POSTs through a front end's Unix socket, each
// POST checked by the sha256 the app echoes. Every request is recorded (when it started and ended,
// which host served it, what went wrong) so a scenario can count failures by kind and time a
// failover after the fact.
import * as http from 'node:http';
import { pattern, sha256 } from '../helpers/bytes';

export type Method = 'GET' | 'POST';

export interface Sample {
  method: Method;
  /** performance.now() when the request started and when it ended. */
  start: number;
  end: number;
  /** The host that answered (the app's X-Host header), null when none did. */
  host: string | null;
  /** null for a good answer; else 'status 502', 'hash', 'ECONNRESET', 'timeout'... */
  failure: string | null;
}

export interface LoadOptions {
  /** Concurrent clients (default 6). */
  clients?: number;
  /** Requests per second per client at most (default 25: 150 req/s for 6 clients). */
  rate?: number;
  /** Whole-request deadline (default 15 s, above every front-end timeout of the pool configs). */
  timeoutMs?: number;
}

const POST_BODY = pattern(64 * 1024);
const POST_SHA = sha256(POST_BODY);
const EMPTY_SHA = sha256(Buffer.alloc(0));

// A fresh client connection per request (a Unix socket: cheap). A kept-alive one that the front end
// closes as it reloads races the next request written on it, a failure of the client's own, not of
// the pool this rig measures.
function exchange(socketPath: string, method: Method, timeoutMs: number): Promise<Sample> {
  const start = performance.now();
  const body = method === 'POST' ? POST_BODY : undefined;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (host: string | null, failure: string | null) => {
      if (settled) return;
      settled = true;
      resolve({ method, start, end: performance.now(), host, failure });
    };
    const req = http.request(
      {
        socketPath,
        agent: false,
        method,
        path: '/hash',
        headers: body ? { 'content-type': 'application/octet-stream', 'content-length': body.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err: NodeJS.ErrnoException) => finish(null, err.code ?? err.message));
        res.on('end', () => {
          const host = typeof res.headers['x-host'] === 'string' ? res.headers['x-host'] : null;
          if (res.statusCode !== 200) return finish(host, `status ${res.statusCode}`);
          let answer: { bytes?: number; sha256?: string };
          try {
            answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof answer;
          } catch {
            return finish(host, 'bad body');
          }
          const expected = body ? POST_SHA : EMPTY_SHA;
          finish(host, answer.sha256 === expected && answer.bytes === (body?.length ?? 0) ? null : 'hash');
        });
      },
    );
    req.setTimeout(timeoutMs, () => {
      finish(null, 'timeout');
      req.destroy();
    });
    req.on('error', (err: NodeJS.ErrnoException) => finish(null, err.code ?? err.message));
    req.end(body);
  });
}

export class Load {
  readonly samples: Sample[] = [];
  /** Requests started and not ended yet, by method. */
  readonly inFlight = { GET: 0, POST: 0 };
  private running = true;
  private readonly done: Promise<void>;

  constructor(socketPath: string, options: LoadOptions = {}) {
    const clients = options.clients ?? 6;
    const interval = 1000 / (options.rate ?? 25);
    const timeoutMs = options.timeoutMs ?? 15_000;
    const client = async (index: number) => {
      // Alternate methods, offset per client, so GETs and POSTs are always both in flight.
      for (let n = index; this.running; n++) {
        const method: Method = n % 2 === 0 ? 'GET' : 'POST';
        const started = performance.now();
        this.inFlight[method]++;
        this.samples.push(await exchange(socketPath, method, timeoutMs));
        this.inFlight[method]--;
        const wait = interval - (performance.now() - started);
        if (wait > 0 && this.running) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    };
    this.done = Promise.all(Array.from({ length: clients }, (_, index) => client(index))).then(() => {});
  }

  /** Whether `host` answered a request that started after `since`. */
  served(host: string, since: number): boolean {
    return this.samples.some((sample) => sample.host === host && sample.start > since);
  }

  /** How many requests have ended so far. */
  get count(): number {
    return this.samples.length;
  }

  /** Lets the requests in flight end, then resolves with every sample. */
  async stop(): Promise<Sample[]> {
    this.running = false;
    await this.done;
    return this.samples;
  }
}

export interface Tally {
  requests: number;
  gets: number;
  posts: number;
  failedGets: number;
  failedPosts: number;
  /** Failures by kind ('POST status 502': 3). */
  failures: Record<string, number>;
  /** Good answers per host. */
  share: Record<string, number>;
}

/** Counts samples by outcome; `filter` narrows them (e.g. to those started after an event). */
export function tally(samples: readonly Sample[], filter: (sample: Sample) => boolean = () => true): Tally {
  const result: Tally = {
    requests: 0,
    gets: 0,
    posts: 0,
    failedGets: 0,
    failedPosts: 0,
    failures: {},
    share: {},
  };
  for (const sample of samples.filter(filter)) {
    result.requests++;
    if (sample.method === 'GET') result.gets++;
    else result.posts++;
    if (sample.failure === null) {
      if (sample.host !== null) result.share[sample.host] = (result.share[sample.host] ?? 0) + 1;
      continue;
    }
    if (sample.method === 'GET') result.failedGets++;
    else result.failedPosts++;
    const kind = `${sample.method} ${sample.failure}`;
    result.failures[kind] = (result.failures[kind] ?? 0) + 1;
  }
  return result;
}
