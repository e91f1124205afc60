// The seeds' visit counter (Paste's SessionMiddleware): a session per visitor, kept in a sealed cookie,
// so every worker, and every host sharing the secret, counts the same visits.
//
//   SESSION_SECRET=$(openssl rand -hex 32) sluice serve examples/sessions.mjs --http :8080 --workers 2
//
//   curl -b jar -c jar localhost:8080/         You have visited this page 1 time. (served by process …)
//   curl -b jar -c jar localhost:8080/         … 2 times, whichever worker answers
//   curl -b jar -c jar localhost:8080/forget   the session destroyed, its cookie cleared
//
// With SESSION_DIR=/some/dir the sessions are files there instead, one per visitor, which the
// workers share; the cookie then carries only a signed id.
import { compose, sessions } from 'sluice';

const text = [['Content-Type', 'text/plain; charset=utf-8']];

function counter(environ, startResponse) {
  if (environ.PATH_INFO === '/forget') {
    environ['sluice.sessions'].destroy();
    startResponse('200 OK', text);
    return ['Forgotten.\n'];
  }
  const session = environ['sluice.session'];
  session.count = (session.count ?? 0) + 1;
  startResponse('200 OK', text);
  const times = session.count === 1 ? 'time' : 'times';
  return [`You have visited this page ${session.count} ${times}. (served by process ${process.pid})\n`];
}

const store = process.env.SESSION_DIR ? { store: 'file', directory: process.env.SESSION_DIR } : {};

// Without SESSION_SECRET (32 bytes or more) the daemon refuses to start: ERR_SESSION_SECRET.
export default compose(counter, sessions({ secrets: process.env.SESSION_SECRET, ...store }));
