// Several apps under path prefixes, as WSGI's URL mapping (Paste's URLMap) serves them: the longest prefix wins.
import { plainResponse } from './plain-response';
import type { App } from './types';

/** An app and the path prefix it is served below: `''` (or `/`) for everything, else `/api`. */
export interface Mount {
  readonly prefix: string;
  readonly app: App;
}

/** The environ key a map sets for the app it picked; the Node and fetch adapters read it (docs/config.md). */
export const MOUNTED = 'sluice.mounted';

/**
 * One app serving each mount below its prefix. A request goes to the app of the longest prefix its
 * PATH_INFO lies under, on a segment boundary (`/api` takes `/api` and `/api/x`, not `/apix`); the
 * prefix moves from PATH_INFO to the end of SCRIPT_NAME, so the app routes on PATH_INFO wherever it
 * is mounted, and `sluice.mounted` is set. A path under no prefix is answered 404.
 */
export function urlMap(mounts: readonly Mount[]): App {
  const ordered = mounts
    .map(({ prefix, app }) => ({ prefix: prefix.replace(/\/+$/, ''), app }))
    .sort((a, b) => b.prefix.length - a.prefix.length);
  return (environ, startResponse) => {
    const pathInfo = environ.PATH_INFO;
    for (const { prefix, app } of ordered) {
      if (!underPrefix(pathInfo, prefix)) continue;
      environ.SCRIPT_NAME += prefix;
      environ.PATH_INFO = pathInfo.slice(prefix.length);
      environ[MOUNTED] = true;
      return app(environ, startResponse);
    }
    environ['sluice.log'].debug(
      { code: 'ERR_URL_MAP_NO_MATCH', path: pathInfo },
      'no app is mounted at a prefix of the path: 404',
    );
    const { head, body } = plainResponse(404);
    startResponse(head.status, head.headers);
    return [body];
  };
}

function underPrefix(path: string, prefix: string): boolean {
  return (
    prefix === '' ||
    (path.startsWith(prefix) && (path.length === prefix.length || path[prefix.length] === '/'))
  );
}
