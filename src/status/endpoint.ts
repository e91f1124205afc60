// The ping and status paths, answered by the daemon before the app sees the request.
import type { App, Environ, StartResponse } from '../gateway/types';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from './prometheus';
import type { DaemonStatus } from './snapshot';

export interface DaemonPaths {
  readonly statusPath?: string;
  readonly pingPath?: string;
}

/** Where the status comes from: this process, or the primary asked over IPC. */
export type StatusSource = () => Promise<DaemonStatus>;

/**
 * Set once the daemon is stopping (--stop-grace): the ping path answers 503 from then on, so a load
 * balancer's checks take the host out while it still serves what it is sent.
 */
export class Leaving {
  private left = false;

  get leaving(): boolean {
    return this.left;
  }

  leave(): void {
    this.left = true;
  }
}

const NO_STORE: readonly [string, string] = ['Cache-Control', 'no-store'];

/**
 * Wraps `app` so the daemon answers the ping and status paths itself, compared with PATH_INFO (the
 * path as derived for the app, below --mount). `statusAllowed` is false for connections from front
 * ends outside --status-allow: they get a 403 there, never the app.
 */
export function withDaemonPaths(
  app: App,
  paths: DaemonPaths,
  statusAllowed: boolean,
  status: StatusSource,
  leaving: Leaving,
): App {
  const { statusPath, pingPath } = paths;
  if (statusPath === undefined && pingPath === undefined) return app;
  return (environ: Environ, start: StartResponse) => {
    const path = environ.PATH_INFO;
    if (path === pingPath) {
      if (leaving.leaving) {
        start('503 Service Unavailable', [['Content-Type', 'text/plain; charset=utf-8'], NO_STORE]);
        return 'stopping\n';
      }
      start('200 OK', [['Content-Type', 'text/plain; charset=utf-8'], NO_STORE]);
      return 'pong\n';
    }
    if (path !== statusPath) return app(environ, start);
    if (!statusAllowed) {
      start('403 Forbidden', [['Content-Type', 'text/plain; charset=utf-8'], NO_STORE]);
      return 'the status path answers only front ends in --status-allow\n';
    }
    return answerStatus(environ, start, status);
  };
}

async function answerStatus(environ: Environ, start: StartResponse, status: StatusSource): Promise<string> {
  const snapshot = await status();
  if (new URLSearchParams(environ.QUERY_STRING).get('format') === 'prometheus') {
    start('200 OK', [['Content-Type', PROMETHEUS_CONTENT_TYPE], NO_STORE]);
    return renderPrometheus(snapshot);
  }
  start('200 OK', [['Content-Type', 'application/json'], NO_STORE]);
  return JSON.stringify(snapshot, null, 2) + '\n';
}
