// The rig's app: the integration probe app, every response marked with the host that served it
// (RIG_HOST), so the client can tell how a front end spreads the load.
import probe from '../fixtures/apps/probe.mjs';

const host = process.env.RIG_HOST ?? 'unknown';

export default function hostProbe(environ, start) {
  return probe(environ, (status, headers, excInfo) => start(status, [...headers, ['X-Host', host]], excInfo));
}
