#!/usr/bin/env node
// Workers through nginx: hello requests/s with --workers 1 and 2, and node:cluster's two scheduling
// policies (round robin: the primary accepts and passes each connection on; none: the workers
// accept themselves), for SCGI (a connection per request) and kept-alive FastCGI.
//
//   npm run build && node bench/workers.mjs [--duration 8] [--connections 50]
//
// Everything runs on loopback and Unix sockets under a temp directory and is stopped by PID.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: { duration: { type: 'string', default: '8' }, connections: { type: 'string', default: '50' } },
});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-workers-'));
fs.chmodSync(dir, 0o755);
const children = new Set();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(command, argv, env = {}) {
  const child = spawn(command, argv, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  children.add(child);
  child.on('exit', () => children.delete(child));
  return { child, stderr: () => stderr };
}

async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function until(check, ms, what) {
  for (const deadline = Date.now() + ms; !check(); await sleep(20)) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what()}`);
  }
}

function nginxConfig(port, protocol, socket) {
  const pass =
    protocol === 'scgi'
      ? `include /etc/nginx/scgi_params; scgi_pass unix:${socket};`
      : `include /etc/nginx/fastcgi_params; fastcgi_pass backend; fastcgi_keep_conn on;`;
  return `daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http { access_log off;
  client_body_temp_path ${dir}/t1; fastcgi_temp_path ${dir}/t2; scgi_temp_path ${dir}/t3;
  proxy_temp_path ${dir}/t4; uwsgi_temp_path ${dir}/t5;
  upstream backend { server unix:${socket}; keepalive 16; }
  server { listen 127.0.0.1:${port}; location / { ${pass} } } }
${process.getuid?.() === 0 ? 'user root;' : ''}`;
}

async function measure(protocol, workers, policy, port) {
  const socket = path.join(dir, `${protocol}-${workers}-${policy}.sock`);
  const sluice = start(
    process.execPath,
    [
      'bin/sluice',
      'serve',
      'examples/hello.mjs',
      `--${protocol}`,
      socket,
      '--workers',
      String(workers),
      '--log-level',
      'warn',
      '--socket-mode',
      '0666',
    ],
    { NODE_CLUSTER_SCHED_POLICY: policy },
  );
  await until(() => fs.existsSync(socket), 10_000, sluice.stderr);
  await sleep(500);
  const conf = path.join(dir, `nginx-${port}.conf`);
  fs.writeFileSync(conf, nginxConfig(port, protocol, socket));
  const nginx = start('nginx', ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')]);
  await sleep(500);
  const url = `http://127.0.0.1:${port}/`;
  spawnSync('wrk', ['-t1', '-c', args.connections, '-d', '2', url]); // warm-up
  const run = spawnSync('wrk', ['-t1', '-c', args.connections, '-d', args.duration, url], {
    encoding: 'utf8',
  });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(run.stdout)?.[1] ?? NaN);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(run.stdout)?.[0] ?? 'none';
  await stop(nginx.child);
  await stop(sluice.child);
  return { protocol, workers, policy, rps: Math.round(rps), errors };
}

process.on('SIGINT', () => {
  for (const child of children) child.kill('SIGKILL');
  process.exit(130);
});

const rows = [];
let port = 18_000 + Math.floor(Math.random() * 1000);
try {
  for (const protocol of ['scgi', 'fastcgi']) {
    for (const [workers, policy] of [
      [1, 'none'],
      [2, 'none'],
      [2, 'rr'],
    ]) {
      const row = await measure(protocol, workers, policy, port++);
      console.error(JSON.stringify(row));
      rows.push(row);
    }
  }
} finally {
  for (const child of children) child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(`| protocol | workers | scheduling | requests/s | errors |\n|---|---|---|---|---|`);
for (const r of rows)
  console.log(
    `| ${r.protocol} | ${r.workers} | ${r.policy === 'rr' ? 'round robin' : 'none (workers accept)'} | ${r.rps} | ${r.errors} |`,
  );
console.log(
  `\nwrk -t1 -c${args.connections} -d${args.duration}s through nginx (worker_processes 1), ${os.cpus().length} CPUs, node ${process.version}`,
);
