// Files under URL prefixes, answered before the app on the --http development listener by the `send` package.
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import send from 'send';
import { nodeApp, type GatewayIncomingMessage } from '../adapters/node';
import type { App, Environ, Middleware } from '../gateway/types';

/** One `--static PREFIX=DIR`, resolved at start. */
export interface StaticMount {
  /** A URL path without a trailing slash; `/` takes every path. */
  readonly prefix: string;
  /** The directory's real path: symlinks resolved, so that what lies inside it can be told by its path. */
  readonly root: string;
}

/** The mount a request falls under, and its path below the prefix as sent (still percent-encoded). */
interface Match {
  readonly mount: StaticMount;
  readonly rest: string;
}

/**
 * Answers requests of the HTTP listener whose URL path lies under a mount's prefix with the files
 * of its directory (the longest prefix wins; a file that is not there is a 404, not the app's);
 * every other request, and every request over SCGI and FastCGI, goes to the app. The files go
 * through `send` (ETag, Last-Modified, 304, Range, HEAD, types, index.html, `..` refused) run by the
 * Node adapter, so a file is one more response of the request core: admitted, timed, counted and
 * written to the access log like the app's.
 */
export function staticFiles(mounts: readonly StaticMount[]): Middleware {
  const byLength = [...mounts].sort((a, b) => b.prefix.length - a.prefix.length);
  const matches = new WeakMap<Environ, Match>();
  const files = nodeApp((req, res) => {
    const { mount, rest } = matches.get((req as GatewayIncomingMessage).environ)!;
    send(req, rest, { root: mount.root, index: 'index.html' })
      // send's own redirect knows only the path below the prefix; the client needs the whole URL.
      .on('directory', () => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        res.statusCode = 301;
        res.setHeader('Location', `${url.pathname}/${url.search}`);
        res.end();
      })
      .pipe(res);
  });
  return (app: App): App =>
    async (environ, start) => {
      const match = environ['sluice.protocol'] === 'http' ? matchMount(byLength, environ) : undefined;
      if (match === undefined) return app(environ, start);
      // As a front end's static location: a file takes no other method, and the app never sees one.
      if (environ.REQUEST_METHOD !== 'GET' && environ.REQUEST_METHOD !== 'HEAD') {
        start('405 Method Not Allowed', [
          ['Allow', 'GET, HEAD'],
          ['Content-Type', 'text/plain; charset=utf-8'],
        ]);
        return 'Method Not Allowed\n';
      }
      if (!(await staysInside(match.mount.root, match.rest))) {
        environ['sluice.log'].warn({ uri: environ.REQUEST_URI }, 'static file outside its directory refused');
        start('403 Forbidden', [['Content-Type', 'text/plain; charset=utf-8']]);
        return 'Forbidden\n';
      }
      matches.set(environ, match);
      return files(environ, start);
    };
}

/** Matched on the path as the client sent it, as a front end's `location /static/` would be. */
function matchMount(mounts: readonly StaticMount[], environ: Environ): Match | undefined {
  const uri = environ.REQUEST_URI ?? '/';
  const query = uri.indexOf('?');
  const urlPath = query === -1 ? uri : uri.slice(0, query);
  for (const mount of mounts) {
    if (mount.prefix === '/') return { mount, rest: urlPath };
    if (urlPath === mount.prefix || urlPath.startsWith(mount.prefix + '/')) {
      return { mount, rest: urlPath.slice(mount.prefix.length) };
    }
  }
  return undefined;
}

/**
 * False when the file `rest` names, or the index.html of a directory it names, is really outside
 * `root`: send refuses `..` and encoded dots, but follows a symlink wherever it points. Whatever
 * cannot be resolved (nothing there, a malformed escape) is left to send's own 404 or 400.
 */
async function staysInside(root: string, rest: string): Promise<boolean> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest);
  } catch {
    return true;
  }
  const target = path.join(root, decoded);
  if (!inside(root, target)) return false;
  const real = await realpath(target).catch(() => null);
  if (real === null) return true;
  if (!inside(root, real)) return false;
  const index = await realpath(path.join(real, 'index.html')).catch(() => null);
  return index === null || inside(root, index);
}

function inside(root: string, file: string): boolean {
  return file === root || file.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}
