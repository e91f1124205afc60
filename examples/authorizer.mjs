// A FastCGI authorizer as an ordinary sluice app: Apache httpd's mod_authnz_fcgi asks it, before every
// request to a protected location, whether the request may go on (deploy/apache/sluice-authorizer.conf).
//
//   sluice serve examples/authorizer.mjs --fastcgi 127.0.0.1:9001 --allow 127.0.0.1
//
// mod_authnz_fcgi reaches authorizers over TCP only, one connection per check (FCGI_KEEP_CONN 0), and
// sends no request body. sluice runs the app as for any request; environ.FCGI_ROLE is 'AUTHORIZER'
// and Apache adds FCGI_APACHE_ROLE:
//   AUTHENTICATOR  `AuthnzFcgiCheckAuthnProvider` (the shipped config) and `authn` providers: check
//                  who the client is; REMOTE_USER and REMOTE_PASSWD carry the Basic credentials.
//   AUTHORIZER     `authz` providers under `Require`: Apache already authenticated REMOTE_USER (no
//                  REMOTE_PASSWD); decide what that user may see.
//   (unset)        an `authnz` provider used as `AuthBasicProvider`: one combined check.
// Apache passes no PATH_INFO or SCRIPT_NAME to authorizers; the path comes from REQUEST_URI.
//
// The answer (FastCGI spec §6.3):
//   200 OK   allow. Only `Variable-NAME: value` headers count: Apache strips the `Variable-` prefix
//            and sets NAME as an environment variable of the request, which mod_proxy_fcgi then
//            passes to the content app as the FastCGI param NAME (here environ.AUTH_ROLE). Send no
//            other header and no body: Apache ignores the body, and other headers would be added
//            to the client's response.
//   other    deny: Apache sends this status, its headers and the body to the client as they are.
import { createHash, timingSafeEqual } from 'node:crypto';

/** The user table. A real authorizer would ask a database, LDAP or a password file (hashed!). */
const USERS = new Map([
  ['alice', { password: 'wonderland', role: 'admin' }],
  ['bob', { password: 'builder', role: 'reader' }],
]);

/** Which roles may see which paths: the longest matching prefix wins; no match means 403. */
const RULES = [
  { prefix: '/internal', roles: [] }, // nobody, whatever the credentials
  { prefix: '/admin', roles: ['admin'] },
  { prefix: '/', roles: ['admin', 'reader'] },
];

const REALM = 'sluice';

/** Compares secrets in constant time (both hashed first, so lengths leak nothing either). */
function sameSecret(a, b) {
  const digest = (text) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * The client's claim: { user, password } for Basic credentials, { user } for a user Apache already
 * authenticated (AUTHORIZER role), null when the client sent none, 'malformed' when they cannot be read.
 */
function credentials(environ) {
  // Apache decodes Basic credentials itself and sends them as REMOTE_USER/REMOTE_PASSWD (AUTHENTICATOR
  // role, or the combined authnz check). CGI variables arrive as latin1 strings: re-read them as UTF-8.
  if (typeof environ.REMOTE_PASSWD === 'string' && typeof environ.REMOTE_USER === 'string') {
    return {
      user: Buffer.from(environ.REMOTE_USER, 'latin1').toString('utf8'),
      password: Buffer.from(environ.REMOTE_PASSWD, 'latin1').toString('utf8'),
    };
  }
  // AUTHORIZER role: another Apache module authenticated the user; only the path remains to check.
  if (environ.FCGI_APACHE_ROLE === 'AUTHORIZER' && typeof environ.REMOTE_USER === 'string') {
    return { user: Buffer.from(environ.REMOTE_USER, 'latin1').toString('utf8') };
  }
  // Other front ends (lighttpd's authorizer mode, nginx auth_request, Apache with CGIPassAuth On)
  // pass the Authorization header itself.
  const header = environ.HTTP_AUTHORIZATION;
  if (typeof header !== 'string' || header === '') return null;
  const match = /^Basic[ \t]+([A-Za-z0-9+/]+=*)[ \t]*$/i.exec(header);
  // Another scheme (Bearer ...) is not ours: as good as no credentials, so the client is challenged.
  if (match === null) return /^Basic(?:[ \t]|$)/i.test(header) ? 'malformed' : null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * The path the front end will serve, from REQUEST_URI: percent-decoded, `//` merged and dot segments
 * resolved as Apache does for the URL it maps, so `/x/../admin` or `//admin` is judged as `/admin`.
 * null when it cannot be read (bad escapes, NUL, backslash, `..` above the root): such a path is denied.
 */
function requestPath(environ) {
  let target =
    typeof environ.REQUEST_URI === 'string' ? environ.REQUEST_URI : environ.SCRIPT_NAME + environ.PATH_INFO;
  target = target.split('?', 1)[0];
  if (!target.startsWith('/')) {
    // Absolute form (GET http://host/path): keep the path.
    const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*(\/.*)?$/.exec(target);
    if (absolute === null) return null;
    target = absolute[1] ?? '/';
  }
  let decoded;
  try {
    decoded = decodeURIComponent(target);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = [];
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) return null;
      segments.pop();
    } else {
      segments.push(segment);
    }
  }
  return '/' + segments.join('/');
}

function rolesFor(path) {
  let best = null;
  for (const rule of RULES) {
    const under =
      rule.prefix === '/' || path === rule.prefix || path.startsWith(rule.prefix.replace(/\/?$/, '/'));
    if (under && (best === null || rule.prefix.length > best.prefix.length)) best = rule;
  }
  return best === null ? [] : best.roles;
}

function deny(startResponse, status, headers, text) {
  startResponse(status, [['Content-Type', 'text/plain; charset=utf-8'], ...headers]);
  return [text + '\n'];
}

/** Decides one request; `note` collects what the debug log line reports. */
function decide(environ, startResponse, note) {
  const claim = credentials(environ);
  if (claim === null) {
    // 401: nobody is logged in yet. The challenge makes browsers ask for a user name and password
    // (RFC 9110 §15.5.2 requires WWW-Authenticate on every 401).
    return deny(
      startResponse,
      '401 Unauthorized',
      [['WWW-Authenticate', `Basic realm="${REALM}", charset="UTF-8"`]],
      'Log in to see this page.',
    );
  }
  const user = claim === 'malformed' ? undefined : USERS.get(claim.user);
  note.user = claim === 'malformed' ? undefined : claim.user;
  // Compare against a dummy for unknown users too, so the timing does not tell which names exist.
  const passwordOk =
    claim !== 'malformed' &&
    (claim.password === undefined || sameSecret(claim.password, user?.password ?? '\0no such user'));
  if (user === undefined || !passwordOk) {
    // 403, not 401: the credentials were read and refused. Another 401 would make a browser ask again
    // at once (and let a script retry forever on the challenge); 403 ends the exchange. For a site
    // where people mistype passwords, answer 401 with the challenge here instead.
    return deny(startResponse, '403 Forbidden', [], 'Wrong user name or password.');
  }
  const path = requestPath(environ);
  note.path = path;
  if (path === null || !rolesFor(path).includes(user.role)) {
    // 403: the user is known, but this path is not for their role (or the path makes no sense).
    // Logging in again would not change that, so no challenge.
    return deny(startResponse, '403 Forbidden', [], 'You may not see this page.');
  }
  // 200: allowed. Apache exports AUTH_ROLE to the request; the content app reads environ.AUTH_ROLE.
  note.role = user.role;
  startResponse('200 OK', [['Variable-AUTH_ROLE', user.role]]);
  return [];
}

export default function authorizer(environ, startResponse) {
  const note = {};
  let status = '';
  const result = decide(
    environ,
    (statusLine, headers) => {
      status = statusLine;
      return startResponse(statusLine, headers);
    },
    note,
  );
  // Never log REMOTE_PASSWD or the Authorization header.
  environ['sluice.log'].debug(
    {
      fcgiRole: environ.FCGI_ROLE,
      apacheRole: environ.FCGI_APACHE_ROLE,
      uri: environ.REQUEST_URI,
      ...note,
      status,
    },
    'authorizer decision',
  );
  return result;
}
