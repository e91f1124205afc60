// How every Node peer of the benchmarks starts: listen on the address from argv, say so on stderr
// like sluice does, close on SIGTERM/SIGINT. Shared by node-http, node-fastcgi and the null responders.
import fs from 'node:fs';

const log = (fields) => process.stderr.write(JSON.stringify({ time: Date.now(), ...fields }) + '\n');

/** Listens on `spec` (unix:/path.sock, /path.sock or host:port) and stops cleanly on a signal. */
export function listenFromArgv(server, protocol, usage) {
  const spec = process.argv[2];
  if (!spec) {
    process.stderr.write(`usage: ${usage} unix:/path.sock | 127.0.0.1:PORT\n`);
    process.exit(2);
  }
  const ready = (address) => {
    log({ msg: 'listening', protocol, address });
    log({ msg: 'ready', pid: process.pid, node: process.version });
  };
  if (spec.startsWith('unix:') || spec.startsWith('/')) {
    const socketPath = spec.startsWith('unix:') ? spec.slice(5) : spec;
    fs.rmSync(socketPath, { force: true });
    server.listen(socketPath, () => {
      fs.chmodSync(socketPath, 0o666); // nginx workers may run as another user (www-data)
      ready(`unix:${socketPath}`);
    });
  } else {
    const match = /^(.*):(\d+)$/.exec(spec);
    if (!match) {
      process.stderr.write(`bad address ${JSON.stringify(spec)}\n`);
      process.exit(2);
    }
    server.listen(Number(match[2]), match[1] || '127.0.0.1', () => {
      const address = server.address();
      ready(`${address.address}:${address.port}`);
    });
  }
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.once(signal, () => {
      server.close(() => process.exit(0));
      server.closeAllConnections?.();
      setTimeout(() => process.exit(0), 2000).unref();
    });
  }
}
