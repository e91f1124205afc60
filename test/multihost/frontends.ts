// The rig's front ends: nginx or HAProxy in the front end's namespace, from the SHIPPED pool
// configs (deploy/nginx/sluice-pool.conf, deploy/haproxy/sluice-pool.cfg) with only the listener,
// the log paths and the server lines rewritten, wrapped in the test main configs of
// test/integration/frontends/. They listen on a Unix socket: a path is reachable from the test
// process in the root namespace, while their traffic to the hosts stays inside the rig's namespaces.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/daemon';
import { findBinary, nginxConfDir, renderTemplate, runAsLines } from '../helpers/frontends';
import type { Backend, Network } from './network';

export type PoolFrontEndName = 'nginx' | 'haproxy';

const POOL_CONFIG: Record<PoolFrontEndName, string> = {
  nginx: 'deploy/nginx/sluice-pool.conf',
  haproxy: 'deploy/haproxy/sluice-pool.cfg',
};
const WRAPPER: Record<PoolFrontEndName, string> = {
  nginx: 'test/integration/frontends/nginx.conf',
  haproxy: 'test/integration/frontends/haproxy.cfg',
};
// The shipped files' canonical lines, replaced by the rig (see each file's header).
const CANONICAL_LISTEN: Record<PoolFrontEndName, RegExp> = {
  nginx: /^([ \t]*)listen 80;$/m,
  haproxy: /^([ \t]*)bind :80$/m,
};
const CANONICAL_SERVER: Record<PoolFrontEndName, RegExp> = {
  nginx: /^([ \t]*)server 10\.0\.0\.1\d:9000( .*)?;\n/gm,
  haproxy: /^([ \t]*)server h\d 10\.0\.0\.1\d:9000( .*)?\n/gm,
};

export interface PoolFrontEnd {
  name: PoolFrontEndName;
  /** The Unix socket it answers HTTP on. */
  socketPath: string;
  /** PID of its current main process (HAProxy's changes at each reload). */
  pid(): number;
  /**
   * Rewrites the pool to `hosts` and reloads gracefully: `nginx -s reload`; HAProxy: a new process
   * with `-x`, the old one drained (`shutdown frontend`) and then soft-stopped (SIGUSR1).
   */
  reload(hosts: readonly Backend[]): Promise<void>;
  stop(): Promise<void>;
  /** Its logs so far (error log, stderr). */
  logs(): string;
}

/**
 * Settings the pool config's header asks of each host beyond the rig's own (--stop-grace, for a
 * front end that checks the ping path): read from its `sluice serve` line, so the file and the
 * hosts the rig runs behind it agree.
 */
export function hostFlags(name: PoolFrontEndName): string[] {
  const text = fs.readFileSync(path.join(REPO_ROOT, POOL_CONFIG[name]), 'utf8');
  const grace = /^#.*sluice serve .*--stop-grace (\d+)/m.exec(text);
  return grace ? ['--stop-grace', grace[1]!] : [];
}

/**
 * How long after a host is back the rig waits before the next host may go: nginx leaves a host
 * that failed alone for its `fail_timeout`, and the rolling-deploy recipe of docs/deploy.md waits
 * that long. HAProxy's checks put the host back as soon as it answers them.
 */
export function rejoinMs(name: PoolFrontEndName): number {
  if (name !== 'nginx') return 0;
  const text = fs.readFileSync(path.join(REPO_ROOT, POOL_CONFIG[name]), 'utf8');
  const timeout = /^\s*server [^#\n]*fail_timeout=(\d+)s/m.exec(text);
  if (timeout === null) throw new Error(`${POOL_CONFIG[name]}: no fail_timeout=Ns on a server line`);
  return Number(timeout[1]) * 1000;
}

/** The shipped pool config with the rig's listener, logs and one server line per host. */
function renderPool(
  name: PoolFrontEndName,
  network: Network,
  hosts: readonly Backend[],
  prefix: string,
): string {
  let text = fs.readFileSync(path.join(REPO_ROOT, POOL_CONFIG[name]), 'utf8');
  const listen = CANONICAL_LISTEN[name];
  if (!listen.test(text)) throw new Error(`${POOL_CONFIG[name]}: no ${listen} line for the rig to rewrite`);
  const socketPath = path.join(prefix, 'http.sock');
  text = text.replace(listen, (_all, indent: string) =>
    name === 'nginx' ? `${indent}listen unix:${socketPath};` : `${indent}bind ${socketPath}`,
  );
  const servers = [...text.matchAll(CANONICAL_SERVER[name])];
  if (servers.length === 0) throw new Error(`${POOL_CONFIG[name]}: no server lines for the rig to rewrite`);
  const [indent, parameters] = [servers[0]![1]!, servers[0]![2] ?? ''];
  const lines = hosts.map((host) =>
    name === 'nginx'
      ? `${indent}server ${network.address(host)}:9000${parameters};`
      : `${indent}server ${host} ${network.address(host)}:9000${parameters}`,
  );
  // Every canonical server line goes; the first one's place takes the rig's list.
  let first = true;
  text = text.replace(CANONICAL_SERVER[name], () => {
    const replacement = first ? lines.map((line) => line + '\n').join('') : '';
    first = false;
    return replacement;
  });
  return text.replaceAll('/var/log/nginx/', path.join(prefix, 'logs') + '/');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The name of the shipped HAProxy pool config's frontend (the section the rig's clients reach). */
function haproxyFrontend(): string {
  const text = fs.readFileSync(path.join(REPO_ROOT, POOL_CONFIG.haproxy), 'utf8');
  const frontend = /^frontend (\S+)/m.exec(text);
  if (frontend === null) throw new Error(`${POOL_CONFIG.haproxy}: no frontend section`);
  return frontend[1]!;
}

/** One command on an HAProxy stats socket (the CLI); resolves with its answer. */
function haproxyCli(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const connection = net.createConnection(socket, () => connection.end(`${command}\n`));
    connection.setTimeout(5000, () => connection.destroy(new Error(`${socket}: no answer to ${command}`)));
    connection.on('data', (chunk: Buffer) => chunks.push(chunk));
    connection.on('error', reject);
    connection.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Whether the front end answers the ping path over its socket (any host's answer will do). */
function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/ping', agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Polls `condition` every 50 ms until it holds; throws after `ms`. */
export async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  ms: number,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await sleep(50);
  }
}

interface Process {
  child: ChildProcess;
  exited: Promise<void>;
  output: string[];
}

function launch(network: Network, argv: string[], output: string[]): Process {
  const child = spawn(network.launcher('fe')[0]!, [...network.launcher('fe').slice(1), ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => output.push(chunk.toString('utf8'));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, exited, output };
}

/** SIGTERM, then SIGKILL if it has not exited within `ms`. */
async function terminate(process: Process, ms = 5000): Promise<void> {
  if (process.child.exitCode !== null || process.child.signalCode !== null) return;
  process.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([
    process.exited.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]).finally(() => clearTimeout(timer));
  if (!done) {
    process.child.kill('SIGKILL');
    await process.exited;
  }
}

/** Starts a front end over `hosts` and waits until it answers the ping path through them. */
export async function startPool(
  name: PoolFrontEndName,
  network: Network,
  hosts: readonly Backend[],
): Promise<PoolFrontEnd> {
  const binary = findBinary(name);
  if (binary === undefined) throw new Error(`${name} not found`);
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), `sluice-rig-${name}-`));
  for (const dir of ['logs', 'tmp']) fs.mkdirSync(path.join(prefix, dir));
  // Its workers run unprivileged (www-data, haproxy): they traverse the prefix and write logs there.
  fs.chmodSync(prefix, 0o755);
  fs.chmodSync(path.join(prefix, 'logs'), 0o1777);
  fs.chmodSync(path.join(prefix, 'tmp'), 0o1777);
  const socketPath = path.join(prefix, 'http.sock');
  const deployFile = path.join(prefix, path.basename(POOL_CONFIG[name]));
  const configFile = path.join(prefix, path.basename(WRAPPER[name]));
  const wrapperSource = path.join(REPO_ROOT, WRAPPER[name]);
  // HAProxy: a stats socket that hands the listeners over (`expose-fd listeners`, as Debian's
  // haproxy.cfg has), so a reload passes them to the new process with -x instead of binding anew:
  // otherwise connections queued on the old listener when it stops accepting are never answered.
  // Each process gets a socket of its own (admin.<n>.sock), so that a reload can still talk to the
  // old one once the new one runs (see reload()).
  let generation = 0;
  const adminSocket = (n: number) => path.join(prefix, `admin.${n}.sock`);
  const writeConfig = () => {
    const extra =
      name === 'haproxy'
        ? `\nglobal\n    stats socket ${adminSocket(generation)} mode 600 level admin expose-fd listeners`
        : '';
    const values = { PREFIX: prefix, DEPLOY: deployFile, RUN_AS: runAsLines(name), EXTRA: extra };
    fs.writeFileSync(
      configFile,
      renderTemplate(fs.readFileSync(wrapperSource, 'utf8'), values, wrapperSource),
    );
  };
  writeConfig();
  const writePool = (list: readonly Backend[]) =>
    fs.writeFileSync(deployFile, renderPool(name, network, list, prefix));
  writePool(hosts);
  if (name === 'nginx') {
    for (const file of ['fastcgi_params', 'mime.types'])
      fs.copyFileSync(path.join(nginxConfDir(), file), path.join(prefix, file));
  }

  const output: string[] = [];
  const nginxArgs = ['-p', prefix + '/', '-c', configFile, '-e', path.join(prefix, 'logs', 'error.log')];
  const argv = (extra: string[] = []) =>
    name === 'nginx' ? [binary, ...nginxArgs] : [binary, '-db', '-f', configFile, '-f', deployFile, ...extra];
  let current = launch(network, argv(), output);
  const retired: Process[] = [];

  const logs = () => {
    let files = '';
    for (const file of fs.existsSync(path.join(prefix, 'logs'))
      ? fs.readdirSync(path.join(prefix, 'logs'))
      : [])
      files += `==> ${file} <==\n${fs.readFileSync(path.join(prefix, 'logs', file), 'utf8')}\n`;
    return `${files}==> output <==\n${output.join('')}`;
  };

  const ready = async (process: Process) => {
    await waitUntil(
      `${name} answers on ${socketPath}`,
      () => {
        if (process.child.exitCode !== null) throw new Error(`${name} exited during startup:\n${logs()}`);
        return answers(socketPath);
      },
      15_000,
    );
  };
  await ready(current);

  return {
    name,
    socketPath,
    pid: () => current.child.pid ?? -1,
    async reload(list) {
      writePool(list);
      if (name === 'nginx') {
        execFileSync(
          network.launcher('fe')[0]!,
          [...network.launcher('fe').slice(1), binary, ...nginxArgs, '-s', 'reload'],
          {
            stdio: 'ignore',
          },
        );
        return;
      }
      // Not `-sf`: a soft stop (SIGUSR1) makes HAProxy's FastCGI mux send FCGI_ABORT_REQUEST for
      // every request the old process still has in flight, and 2.6 then never answers the client
      // of one the application ended without a response (it waits for `timeout server`). So:
      // 1. the new HAProxy takes the listeners over (-x) and serves alongside the old one;
      // 2. the old one's frontend is shut down (it stops accepting; its backend keeps running);
      // 3. once the requests it had accepted are answered, it is soft-stopped with none in flight.
      const old = current;
      const oldAdmin = adminSocket(generation);
      generation++;
      writeConfig();
      retired.push(old);
      current = launch(network, argv(['-x', oldAdmin]), output);
      const started = current;
      await waitUntil(
        `the new ${name} answers on its stats socket`,
        async () => {
          if (started.child.exitCode !== null) throw new Error(`${name} exited during startup:\n${logs()}`);
          return (await haproxyCli(adminSocket(generation), 'show info').catch(() => '')).includes('Pid:');
        },
        15_000,
      );
      await ready(current);
      await haproxyCli(oldAdmin, `shutdown frontend ${haproxyFrontend()}`);
      await waitUntil(
        `the old ${name} (pid ${old.child.pid}) answers what it accepted`,
        async () => /^CurrConns: 0$/m.test(await haproxyCli(oldAdmin, 'show info')),
        30_000,
      );
      old.child.kill('SIGUSR1');
    },
    async stop() {
      await Promise.all([...retired, current].map((process) => terminate(process)));
      fs.rmSync(prefix, { recursive: true, force: true });
    },
    logs,
  };
}
