// Turns whatever an app module exports into a gateway app, through the adapter its kind needs.
import type { App } from '../gateway/types';
import type { AppKind } from './detect';
import { fetchApp, type FetchHandler } from './fetch';
import { nodeApp, type NodeListener } from './node';

interface KoaLike {
  callback(): NodeListener;
}

interface FastifyLike {
  ready(): PromiseLike<unknown>;
  routing: NodeListener;
}

interface FetchLike {
  fetch(request: Request, ...rest: never[]): unknown;
}

/**
 * What can be served, as types: each kind detectApp recognizes. Detection goes by shape at run
 * time; this type only lets a program's editor say early that a value is no app.
 */
export type Servable = App | NodeListener | FetchHandler | FetchLike | KoaLike | FastifyLike;

/** Adapts `value`, recognized as `kind` by detectApp; a Fastify instance is made ready first. */
export async function adaptApp(value: unknown, kind: AppKind): Promise<App> {
  switch (kind) {
    case 'gateway':
      return value as App;
    case 'node':
    case 'express':
      return nodeApp(value as NodeListener);
    case 'koa':
      return nodeApp((value as KoaLike).callback());
    case 'fastify': {
      const fastify = value as FastifyLike;
      await fastify.ready();
      return nodeApp((req, res) => fastify.routing(req, res));
    }
    case 'fetch':
      if (typeof value === 'function') return fetchApp(value as FetchHandler);
      return fetchApp((request, environ, context) =>
        (value as { fetch: FetchHandler }).fetch(request, environ, context),
      );
  }
}
