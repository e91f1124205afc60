// Which interface an app module's export speaks: the rule `sluice serve` applies, and its overrides.
import type { InterfaceName } from '../common/interfaces';
import { UsageError } from '../errors';

/** Re-exported for the public API; the list lives in src/common so the settings need not import adapters. */
export type { InterfaceName };

/** What an export was recognized as. */
export type AppKind = 'gateway' | 'node' | 'express' | 'koa' | 'fastify' | 'fetch';

/** The interface each kind is served through. */
export const INTERFACE_OF: Readonly<Record<AppKind, InterfaceName>> = {
  gateway: 'gateway',
  node: 'node',
  express: 'node',
  koa: 'node',
  fastify: 'node',
  fetch: 'fetch',
};

type Shape = Exclude<AppKind, 'gateway' | 'node'>;

// Framework instances by shape, checked before any function is looked at by its parameters.
const SHAPES: ReadonlyArray<readonly [Shape, (value: object) => boolean]> = [
  ['express', (v) => typeof v === 'function' && isMethod(v, 'handle') && isMethod(v, 'set')],
  ['koa', (v) => typeof v === 'object' && isMethod(v, 'callback')],
  ['fastify', (v) => isMethod(v, 'routing') && isMethod(v, 'ready')],
  ['fetch', (v) => typeof v === 'object' && isMethod(v, 'fetch')],
];

function isMethod(value: object, name: string): boolean {
  return typeof (value as Record<string, unknown>)[name] === 'function';
}

const FLAG_FOR: Readonly<Record<Shape, string>> = {
  express: '--interface node',
  koa: '--interface node',
  fastify: '--interface node',
  fetch: '--interface fetch',
};

/**
 * The rule: an Express app (a function with `handle` and `set`), a Koa app (an object with
 * `callback()`), a Fastify instance (`routing` and `ready()`) or a fetch-style object (a `fetch`
 * method) by shape; otherwise a plain function whose first parameter is named `req` or `request`
 * (and second, if any, `res` or `response`) is a Node listener, and any other function a gateway
 * app. `forced` (from --interface) picks the interface; the shape still says how to adapt it. An
 * export matching two shapes is a UsageError naming the flag that settles it.
 */
export function detectApp(value: unknown, forced?: InterfaceName): AppKind {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    throw new UsageError(
      'ERR_APP_NOT_FUNCTION',
      `the app export is a ${value === null ? 'null' : typeof value}, not a function or an app object`,
    );
  }
  const shapes = SHAPES.filter(([, matches]) => matches(value)).map(([k]) => k);
  const candidates = forced === undefined ? shapes : shapes.filter((kind) => INTERFACE_OF[kind] === forced);
  if (candidates.length > 1) {
    throw new UsageError(
      'ERR_APP_AMBIGUOUS',
      `the app export looks like ${candidates.join(' and ')} at once; ` +
        (forced === undefined
          ? `choose with ${[...new Set(candidates.map((k) => FLAG_FOR[k]))].join(' or ')}, or export the handler itself`
          : 'export the handler itself (for example app.callback() or app.fetch)'),
    );
  }
  if (candidates.length === 1) return candidates[0];
  if (typeof value !== 'function') {
    throw new UsageError(
      'ERR_APP_NOT_FUNCTION',
      forced === undefined
        ? 'the app export is an object that is no Express, Koa, Fastify or fetch-style app, and not a function'
        : `the app export is an object with no ${forced === 'fetch' ? 'fetch method' : 'Node request listener'}`,
    );
  }
  if (forced !== undefined) return forced;
  return isNodeListener(value as (...args: never[]) => unknown) ? 'node' : 'gateway';
}

/** `(req, res)`, `function (request, response)`, `async req => …`: parameters named like Node's. */
function isNodeListener(fn: (...args: never[]) => unknown): boolean {
  const [first, second] = parameterNames(fn);
  return (
    (first === 'req' || first === 'request') &&
    (second === undefined || second === 'res' || second === 'response')
  );
}

/** The simple parameter names of a function, from its source text; empty when they are not simple. */
export function parameterNames(fn: (...args: never[]) => unknown): string[] {
  const source = Function.prototype.toString.call(fn).replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '');
  const match =
    /^(?:async\s*)?(?:function\s*\*?\s*[\w$]*\s*)?\(([^)]*)\)/.exec(source) ??
    /^(?:async\s+)?([\w$]+)\s*=>/.exec(source);
  if (match === null) return [];
  return match[1]
    .split(',')
    .map((name) => name.trim().replace(/\s*=[\s\S]*$/, ''))
    .filter((name) => name !== '');
}
