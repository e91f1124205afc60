// A worker process: serves what the primary's listeners accept, reports to it, retires or stops when told.
import type { Socket } from 'node:net';
import { EXIT, exitCodeFor } from '../exit-codes';
import type { ListenHandle } from '../listen';
import { reopenLogFiles } from '../logger';
import type { ListenerProtocol } from '../daemon';
import { startServing, type Serving } from '../serving';
import { stopReading } from './stop-reading';
import type { StatusSource } from '../../status/endpoint';
import type { DaemonStatus } from '../../status/snapshot';
import { isMessage, WORKER_SPEC_VARIABLE, type ToPrimary, type ToWorker, type WorkerSpec } from './messages';

const RECYCLE_CHECK_MS = 1000;

function send(message: ToPrimary, handle?: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send!(message, handle, {}, () => resolve());
  });
}

/** Runs this process as a worker; resolves with its exit code. */
export async function runWorker(): Promise<number> {
  const spec = JSON.parse(process.env[WORKER_SPEC_VARIABLE]!) as WorkerSpec;
  delete process.env[WORKER_SPEC_VARIABLE];
  const options = spec.options;
  // The primary handles these for the whole daemon; a terminal sends SIGINT to every process in its group.
  for (const signal of ['SIGINT', 'SIGHUP', 'SIGUSR2'] as const) process.on(signal, () => undefined);

  const statusWaiters = new Map<number, (status: DaemonStatus) => void>();
  let lastStatusId = 0;
  const statusFromPrimary: StatusSource = () =>
    new Promise((resolve) => {
      const id = ++lastStatusId;
      statusWaiters.set(id, resolve);
      void send({ sluice: 'status?', id });
    });

  // A stop or retire may come while the app is still loading: it is kept and obeyed once serving.
  let early: 'retire' | 'stop' | null = null;
  // So is the stop grace of a daemon stopping while this worker starts (a reload's successor).
  let graceEarly = false;
  const beforeServing = (message: unknown): void => {
    if (isMessage(message) && (message.sluice === 'stop' || message.sluice === 'retire'))
      early ??= message.sluice;
    if (isMessage(message) && message.sluice === 'grace') graceEarly = true;
  };
  const stopBeforeServing = (): void => void (early = 'stop');
  process.on('message', beforeServing);
  process.on('SIGTERM', stopBeforeServing);
  // Copies of the listening sockets asked for (listeners?) and not all received yet.
  let wanted: { handles: ListenHandle[]; received: number; resolve: (h: ListenHandle[]) => void } | null =
    null;
  const reacquire = (): Promise<readonly ListenHandle[]> =>
    new Promise((resolve) => {
      wanted = { handles: [], received: 0, resolve };
      void send({ sluice: 'listeners?' });
    });
  let serving: Serving;
  try {
    serving = await startServing(options, spec.listeners, {
      slot: spec.slot,
      multiprocess: true,
      shared: true,
      reacquire: spec.listenersHeld ? reacquire : null,
      status: () => statusFromPrimary,
    });
  } catch (error) {
    return exitCodeFor(error);
  }
  const log = serving.log;

  let done: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (done = resolve));
  let leaving = false;
  const handOffs = new Set<Promise<void>>();
  const leave = async (how: 'retire' | 'stop'): Promise<void> => {
    if (leaving) return;
    leaving = true;
    clearInterval(recycleCheck);
    log.info({ how }, how === 'retire' ? 'retiring: a successor serves' : 'stopping');
    const handOff =
      how === 'retire'
        ? (socket: Socket, protocol: ListenerProtocol): void => {
            log.debug({ protocol }, 'handing a kept-alive connection over');
            stopReading(socket);
            const sent = send({ sluice: 'handoff', protocol }, socket).then(() => void socket.destroy());
            handOffs.add(sent);
          }
        : undefined;
    await serving.close(options.drainTimeout, handOff);
    await Promise.all(handOffs);
    await send({ sluice: 'final', counters: serving.meter.snapshot() }).catch(() => undefined);
    done(EXIT.OK);
  };

  process.on('message', (message: unknown, handle: unknown) => {
    if (!isMessage(message)) return;
    const m = message as ToWorker;
    switch (m.sluice) {
      case 'stats?':
        void send({
          sluice: 'stats',
          id: m.id,
          counters: serving.meter.snapshot(),
          rssBytes: process.memoryUsage.rss(),
        });
        break;
      case 'status':
        statusWaiters.get(m.id)?.(m.status);
        statusWaiters.delete(m.id);
        break;
      case 'grace':
        log.info('stop grace: the ping path answers 503');
        serving.startGrace();
        break;
      case 'retire':
      case 'stop':
        void leave(m.sluice);
        break;
      case 'reopen':
        reopenLogFiles(log);
        break;
      case 'adopt':
        log.debug({ protocol: m.protocol, handle: handle !== undefined }, 'adopting a kept-alive connection');
        if (handle !== undefined && !leaving) serving.daemon.adopt(handle as Socket, m.protocol);
        else (handle as Socket | undefined)?.destroy();
        break;
      case 'listener':
        if (wanted === null || handle === undefined) break;
        wanted.handles[m.index] = handle as ListenHandle;
        if (++wanted.received === spec.listeners.length) {
          wanted.resolve(wanted.handles);
          wanted = null;
        }
        break;
    }
  });
  process.off('message', beforeServing);
  process.off('SIGTERM', stopBeforeServing);
  process.on('SIGTERM', () => void leave('stop'));
  // The primary is gone (killed): nobody will replace or stop this worker, so it stops itself.
  process.on('disconnect', () => void leave('stop'));

  const recycleAfter = recycleLimit(options.maxRequests, options.maxRequestsJitter);
  const maxRssBytes = options.maxRss === undefined ? Infinity : options.maxRss * 1024 * 1024;
  let recycleAsked = false;
  const recycleCheck = setInterval(() => {
    if (recycleAsked) return;
    let reason: string | undefined;
    if (serving.meter.requests >= recycleAfter)
      reason = `served ${serving.meter.requests} requests (--max-requests)`;
    else if (process.memoryUsage.rss() > maxRssBytes)
      reason = `resident memory over ${options.maxRss} MB (--max-rss)`;
    if (reason === undefined) return;
    recycleAsked = true;
    log.info({ reason }, 'asking to be replaced');
    void send({ sluice: 'recycle', reason });
  }, RECYCLE_CHECK_MS);
  recycleCheck.unref();

  if (graceEarly) serving.startGrace();
  await send({ sluice: 'ready', bound: serving.bound });
  if (early !== null) void leave(early);
  return finished;
}

/** --max-requests plus a random 0..jitter (default a tenth), so that workers are not replaced all at once. */
function recycleLimit(maxRequests: number | undefined, jitter: number | undefined): number {
  if (maxRequests === undefined) return Infinity;
  const spread = jitter ?? Math.floor(maxRequests / 10);
  return maxRequests + Math.floor(Math.random() * (spread + 1));
}
