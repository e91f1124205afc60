// Requests an adapter answers itself: upgrades that neither SCGI nor FastCGI can carry, and requests
// a node:http server would refuse.
import { plainResponse } from '../gateway/plain-response';
import type { Body, Environ, StartResponse } from '../gateway/types';

/**
 * A protocol switch (WebSocket, h2c): the front end would have to hand over the raw connection, and
 * neither protocol can carry one.
 */
export function isUpgrade(environ: Environ): boolean {
  const upgrade = environ.HTTP_UPGRADE;
  const connection = environ.HTTP_CONNECTION;
  return (
    typeof upgrade === 'string' &&
    upgrade !== '' &&
    typeof connection === 'string' &&
    /(?:^|,)\s*upgrade\s*(?:,|$)/i.test(connection)
  );
}

/** Answers an upgrade with 501 and says why in the log. */
export function refuseUpgrade(environ: Environ, startResponse: StartResponse): Body {
  environ['sluice.log'].warn(
    { upgrade: environ.HTTP_UPGRADE, uri: environ.REQUEST_URI },
    'Upgrade requested (WebSocket?): SCGI and FastCGI cannot carry an upgraded connection; answered 501. ' +
      'Proxy WebSocket paths from the front end straight to a WebSocket server instead.',
  );
  return answerPlain(startResponse, 501);
}

/** `Status: <code> <reason>` with the reason as a plain-text body. */
export function answerPlain(startResponse: StartResponse, code: number): Body {
  const { head, body } = plainResponse(code);
  startResponse(head.status, head.headers);
  return [body];
}
