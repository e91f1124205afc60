// The URL an adapted Node or fetch app sees: REQUEST_URI as sent, or below its prefix in an apps map.
import { encodeLatin1Path } from '../gateway/environ';
import type { Environ } from '../gateway/types';
import { MOUNTED } from '../gateway/url-map';

/**
 * REQUEST_URI as the front end sent it (as behind a proxy_pass that keeps the path). For an app an
 * `apps` map picked, the path below its prefix instead, as Express's own mounting strips it: PATH_INFO
 * (the path the map matched, normalized) encoded again, and QUERY_STRING. The app then routes the same
 * wherever it is mounted, as a gateway app does on PATH_INFO.
 */
export function appTarget(environ: Environ): string {
  if (environ[MOUNTED] !== true) return environ.REQUEST_URI ?? '/';
  const path = encodeLatin1Path(environ.PATH_INFO) || '/';
  return environ.QUERY_STRING === '' ? path : path + '?' + environ.QUERY_STRING;
}

/**
 * Express's names for the parts of a mounted request, which its router keeps when they are set:
 * `baseUrl` the prefix (SCRIPT_NAME), `originalUrl` the whole REQUEST_URI.
 */
export function setMountedUrls(req: object, environ: Environ): void {
  if (environ[MOUNTED] !== true) return;
  const urls = req as { baseUrl?: string; originalUrl?: string };
  urls.baseUrl = encodeLatin1Path(environ.SCRIPT_NAME);
  urls.originalUrl = environ.REQUEST_URI ?? urls.baseUrl + appTarget(environ);
}
