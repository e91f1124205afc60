// The nginx every benchmark sends its load through: its own temp prefix, one worker, loopback ports
// only, one server {} per target. Rendering the config, checking it and starting it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { findBinary, pinned, sleep, startProcess, versionOf } from './processes.mjs';
import { listPids } from './proc-stats.mjs';

/** nginx's binary and the directory of Debian's fastcgi_params/scgi_params, or undefined. */
export function findNginx() {
  const binary = findBinary('nginx');
  const paramsDir = ['/etc/nginx', '/usr/local/etc/nginx', '/usr/local/nginx/conf'].find((dir) =>
    fs.existsSync(path.join(dir, 'fastcgi_params')),
  );
  if (!binary) return undefined;
  if (!paramsDir) throw new Error('nginx fastcgi_params/scgi_params not found (looked in /etc/nginx)');
  return { binary, paramsDir, version: versionOf(binary, ['-v']).replace(/^nginx version:\s*/, '') };
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** The unprivileged user nginx workers (and PHP-FPM's pool) run as when started as root. */
export function unprivilegedUser() {
  if (!isRoot()) return undefined;
  const has = (file, name) =>
    fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .some((line) => line.startsWith(name + ':'));
  const user = ['www-data', 'nobody'].find((u) => has('/etc/passwd', u)) ?? 'nobody';
  const group = [user, 'nogroup', 'nobody'].find((g) => has('/etc/group', g)) ?? user;
  return { user, group };
}

/** An upstream {} of one Unix socket with idle connections kept for reuse (same for every protocol). */
export const keepaliveUpstream = (name, socket, keepalive) =>
  `    upstream ${name} {\n        server unix:${socket};\n        keepalive ${keepalive};\n` +
  `        keepalive_requests 1000;\n        keepalive_timeout 60s;\n    }\n`;

/**
 * servers: [{ comment, port, locations }] (locations: the text inside server {}); upstreams: text of
 * upstream {} blocks; http: extra directives at http {} level (body size limits, buffering).
 */
export function renderNginxConf({ prefix, servers, upstreams = [], http = '' }) {
  const user = unprivilegedUser();
  const blocks = servers.map(
    (s) =>
      `    # ${s.comment}\n    server {\n        listen 127.0.0.1:${s.port};\n        server_name _;\n` +
      `${s.locations}    }\n`,
  );
  return `# Rendered by the sluice benchmarks; run as nginx -p ${prefix}/ -c ${prefix}/nginx.conf
daemon off;                 # foreground: the benchmark owns the master's PID and stops it with SIGTERM
master_process on;
# One worker, so that on a 2-core machine the other core is left to the app under test (the load
# generator shares the cores with both).
worker_processes 1;
${user ? `user ${user.user} ${user.group};` : '# not root: the worker runs as the invoking user'}
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
worker_rlimit_nofile 16384;

events {
    worker_connections 8192;
}

http {
    sendfile on;
    tcp_nopush on;
    default_type text/plain;    # Content-Type of the ceiling's return 200, as the apps send
    access_log off;             # same for every target: measure the gateway, not log writes

    client_body_temp_path ${prefix}/tmp/client_body;
    proxy_temp_path ${prefix}/tmp/proxy;
    fastcgi_temp_path ${prefix}/tmp/fastcgi;
    scgi_temp_path ${prefix}/tmp/scgi;
    uwsgi_temp_path ${prefix}/tmp/uwsgi;
${http}
${upstreams.join('\n')}
${blocks.join('\n')}}
`;
}

function accepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Writes the config, runs nginx -t, starts nginx and waits until every port accepts; finds its worker. */
export async function startNginx(nginx, prefix, config, ports) {
  const configFile = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(configFile, config);
  const args = ['-p', prefix + '/', '-c', configFile, '-e', path.join(prefix, 'logs', 'error.log')];
  const test = spawnSync(nginx.binary, [...args, '-t'], { encoding: 'utf8', timeout: 10_000 });
  if (test.status !== 0) throw new Error(`nginx -t rejected ${configFile}:\n${test.stderr}${test.stdout}`);
  const service = startProcess('nginx', pinned([nginx.binary, ...args], 'BENCH_CPUS_NGINX'), {
    cwd: prefix,
    logFile: path.join(prefix, 'logs', 'nginx.out'),
  });
  const errorLog = () => fs.readFileSync(path.join(prefix, 'logs', 'error.log'), 'utf8');
  const deadline = Date.now() + 10_000;
  for (const port of ports) {
    while (!(await accepts(port))) {
      if (!service.running()) throw new Error(`nginx exited during startup\n${errorLog()}`);
      if (Date.now() > deadline) throw new Error(`nginx did not listen on 127.0.0.1:${port}\n${errorLog()}`);
      await sleep(50);
    }
  }
  let workers;
  while ((workers = listPids((st) => st.ppid === service.pid)).length !== 1 && Date.now() < deadline) {
    await sleep(50);
  }
  if (workers.length !== 1) throw new Error(`expected 1 nginx worker, found ${workers.length}`);
  service.workerPid = workers[0];
  service.errorLog = errorLog;
  return service;
}
