// The middleware a config file names by name: each `(options) => (app) => app`, as a module's default export is.
import type { Middleware } from '../gateway/types';
import { accessLog } from './access-log';
import { catchErrors } from './catch-errors';
import { compress } from './compress';
import { parseQuery } from './params';
import { requestId } from './request-id';
import { sessions } from './sessions';

/** A middleware factory: the options of a config file's entry in, the middleware out. */
// The options come from JSON: each factory checks its own, as it does when called in code.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type MiddlewareFactory = (options: any) => Middleware;

/** By the name `"use"` gives; one line per built-in. A Map: no name reaches Object's own methods. */
export const BUILTIN_MIDDLEWARE: ReadonlyMap<string, MiddlewareFactory> = new Map(
  Object.entries({
    accessLog,
    catchErrors,
    compress,
    parseQuery,
    requestId,
    sessions,
  }),
);
