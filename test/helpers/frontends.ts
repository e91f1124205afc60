// Starts real front ends (nginx, Apache httpd, lighttpd, HAProxy, Caddy, h2o) for integration tests, from
// the SHIPPED deploy configs (deploy/<front end>/*) with only paths and ports rewritten, wrapped in the
// test-only main configs of test/integration/frontends/. Each instance gets a temp prefix directory
// and an ephemeral loopback port, is waited for until it answers HTTP, and is stopped by PID
// (SIGTERM, then SIGKILL of its whole process group after a timeout).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { BRIDGE_FILES, stageFiles } from './stage';

export type FrontEndName = 'nginx' | 'apache' | 'lighttpd' | 'haproxy' | 'caddy' | 'h2o';
export const FRONT_END_NAMES: readonly FrontEndName[] = [
  'nginx',
  'apache',
  'lighttpd',
  'haproxy',
  'caddy',
  'h2o',
];

/** Where the front end finds the app: 'unix:/tmp/x.sock' (or '/tmp/x.sock') or '127.0.0.1:PORT'. */
export interface Upstream {
  scgi?: string;
  fastcgi?: string;
  /**
   * Apache only: the FastCGI authorizer mod_authnz_fcgi asks ('127.0.0.1:PORT'; it speaks TCP only),
   * replacing the canonical fcgi://127.0.0.1:9001/ of deploy files that define one.
   */
  authorizer?: string;
}

export interface FrontEnd {
  name: FrontEndName;
  /** Loopback port it listens on. */
  port: number;
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  /** nginx with options.http2: a second loopback port speaking HTTP/2 without TLS (prior knowledge). */
  http2Port?: number;
  /** PID of the main (master/parent) process; also its process group id. */
  pid: number;
  /** Temp directory holding the rendered configs, logs/, tmp/ and run/ (removed by stop()). */
  prefix: string;
  /** The rendered wrapper config and deploy file, for debugging. */
  configFile: string;
  deployFile: string;
  /** Stops it (SIGTERM, SIGKILL after a timeout), waits for all its processes, removes the prefix. */
  stop(): Promise<void>;
  /** Every log it wrote (error/access logs, stdout, stderr); still available after stop(). */
  errorLog(): string;
  /** Whether the main process is still running. */
  running(): boolean;
}

export interface StartOptions {
  /**
   * Config text added to the test wrapper: inside `http {}` for nginx, at server level after the
   * deploy file for Apache and lighttpd, at the end of the `defaults` section for HAProxy (start it
   * with a section keyword to open a new section).
   */
  extra?: string;
  /** How long to wait until it answers HTTP (default 10 s). */
  readyTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL (default 5 s). */
  stopTimeoutMs?: number;
  /** Keep the prefix directory after stop() (also: env SLUICE_KEEP_FRONTEND_PREFIX=1). */
  keepPrefix?: boolean;
  /**
   * nginx only: the deploy file's server also listens on a second loopback port with `http2` and
   * no TLS (h2c, which nginx 1.22 speaks to clients with prior knowledge only): FrontEnd.http2Port.
   */
  http2?: boolean;
  /**
   * lighttpd and h2o, for deploy files that have the front end spawn sluice (lighttpd "bin-path",
   * h2o "fastcgi.spawn"): the command that replaces the canonical `/usr/bin/sluice serve
   * /srv/app/app.mjs` (split on spaces by lighttpd, so no quoting; run by /bin/sh -c under h2o).
   * lighttpd's sockets go into <prefix>/sockets/, mode 0700 and owned by the user lighttpd runs as
   * (it makes them after dropping root); h2o makes its own. `upstream` may then be {}.
   */
  spawn?: string;
  /**
   * Apache only, for deploy files where mod_fcgid spawns sluice (sluice-fcgid.conf): the directory
   * that replaces the canonical document root /var/www/sluice, holding the site's .htaccess and
   * app.fcgi (staged by the test where Apache's user may read them). `upstream` may then be {}.
   */
  documentRoot?: string;
}

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
const WRAPPER_DIR = path.join(REPO_ROOT, 'test', 'integration', 'frontends');

// Canonical values in the deploy files, replaced by the harness (see each file's header).
const CANONICAL = {
  scgi: { socket: '/run/sluice/scgi.sock', tcp: '127.0.0.1:4000' },
  fastcgi: { socket: '/run/sluice/fastcgi.sock', tcp: '127.0.0.1:9000' },
} as const;
/** Canonical address of a FastCGI authorizer (Apache AuthnzFcgiDefineProvider), see Upstream.authorizer. */
const CANONICAL_AUTHORIZER = 'fcgi://127.0.0.1:9001/';
/**
 * Canonical socket and command of a deploy file where lighttpd (both) or h2o (the command; it makes
 * its socket itself) spawns sluice (StartOptions.spawn).
 */
const CANONICAL_SPAWNED = {
  socket: '"socket" => "/run/lighttpd/sluice.sock"',
  command: '/usr/bin/sluice serve /srv/app/app.mjs',
} as const;
/** Canonical document root of a deploy file where mod_fcgid spawns sluice (StartOptions.documentRoot). */
const CANONICAL_FCGID_ROOT = '/var/www/sluice';
/** Where CGI-bridge deploy files find deploy/cgi/sluice-bridge.cgi; the harness renders it into the prefix. */
const CANONICAL_BRIDGE_DIR = '/usr/local/lib/sluice/';
const BRIDGE_SCRIPT = 'deploy/cgi/sluice-bridge.cgi';

type Protocol = keyof typeof CANONICAL;

const BINARIES: Record<FrontEndName, readonly string[]> = {
  nginx: ['nginx'],
  apache: ['apache2', 'httpd'],
  lighttpd: ['lighttpd'],
  haproxy: ['haproxy'],
  caddy: ['caddy'],
  h2o: ['h2o'],
};
// Other programs the tests start; Debian names php-fpm after its PHP version.
const OTHER_BINARIES: Record<string, readonly string[]> = {
  'php-fpm': ['php-fpm', 'php-fpm8.4', 'php-fpm8.3', 'php-fpm8.2', 'php-fpm8.1'],
};

const INSTALL_HINT: Record<string, string> = {
  nginx: 'apt-get install nginx',
  apache: 'apt-get install apache2',
  apache2: 'apt-get install apache2',
  httpd: 'apt-get install apache2',
  lighttpd: 'apt-get install lighttpd',
  haproxy: 'apt-get install haproxy',
  caddy: 'apt-get install caddy',
  h2o: 'apt-get install h2o',
  mod_fcgid: 'apt-get install libapache2-mod-fcgid',
  'cgi-fcgi': 'apt-get install libfcgi-bin',
  'spawn-fcgi': 'apt-get install spawn-fcgi',
  wrk: 'apt-get install wrk',
  'php-fpm': 'apt-get install php-fpm',
  'systemd-socket-activate': 'apt-get install systemd',
  ss: 'apt-get install iproute2',
  python3: 'apt-get install python3',
  'systemd-notify': 'apt-get install systemd',
  'systemd-analyze': 'apt-get install systemd',
};

// ---------------------------------------------------------------------------------------------
// Binaries

function isCI(): boolean {
  const ci = (process.env.CI ?? '').toLowerCase();
  return ci === 'true' || ci === '1' || ci === 'yes';
}

/** Full path of an executable, searching PATH plus the sbin directories non-root PATHs lack. */
export function findBinary(name: string): string | undefined {
  const candidates = (BINARIES as Record<string, readonly string[]>)[name] ?? OTHER_BINARIES[name] ?? [name];
  const dirs = [
    ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean),
    '/usr/local/sbin',
    '/usr/sbin',
    '/sbin',
  ];
  for (const candidate of candidates) {
    if (candidate.includes('/')) {
      if (isExecutable(candidate)) return candidate;
      continue;
    }
    for (const dir of dirs) {
      const full = path.join(dir, candidate);
      if (isExecutable(full)) return full;
    }
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Whether a binary (or front end name: 'apache' finds apache2 or httpd) is installed.
 * Under CI=true a missing binary THROWS, so the test file fails instead of silently skipping;
 * elsewhere it warns and returns false, and the caller skips.
 */
export function requireBinary(name: string): boolean {
  if (findBinary(name) !== undefined) return true;
  const searched =
    ((BINARIES as Record<string, readonly string[]>)[name] ?? OTHER_BINARIES[name])?.join(' or ') ?? name;
  return missing(`binary ${searched}`, 'in PATH or /usr/sbin', name);
}

/**
 * Whether Apache and one of its modules (e.g. 'mod_fcgid', which Debian packages apart) are
 * installed; like requireBinary, a failure under CI=true and a skip elsewhere.
 */
export function requireApacheModule(module: string): boolean {
  if (!requireBinary('apache')) return false;
  const dir = apacheModulesDirOrUndefined();
  if (dir !== undefined && fs.existsSync(path.join(dir, `${module}.so`))) return true;
  return missing(`Apache module ${module}.so`, `in ${dir ?? 'the Apache module directories'}`, module);
}

/** Throws under CI=true (the test file fails instead of silently skipping); else warns, false. */
function missing(what: string, where: string, name: string): false {
  const hint = INSTALL_HINT[name] ? ` (install: ${INSTALL_HINT[name]})` : '';
  if (isCI()) {
    throw new Error(
      `required ${what} not found ${where}${hint}; CI=true, so this is a test failure, not a skip`,
    );
  }
  console.warn(`skipping tests that need ${what}: not found ${where}${hint}`);
  return false;
}

/** `it`, or `it.skip` when the binary is missing outside CI (throws under CI=true). */
export function itWith(name: string): jest.It {
  return requireBinary(name) ? it : it.skip;
}

// ---------------------------------------------------------------------------------------------
// Ports, users, processes

/** A currently free TCP port on 127.0.0.1 (may race with other processes; startFrontEnd retries). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function systemNameExists(file: string, name: string): boolean {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .some((line) => line.startsWith(name + ':'));
  } catch {
    return false;
  }
}

/** The unprivileged user/group a front end's workers run as when started by root (Debian's). */
function runAsUser(name: FrontEndName): { user: string; group: string } {
  const preferred = name === 'haproxy' ? ['haproxy', 'www-data'] : ['www-data'];
  for (const user of [...preferred, 'nobody']) {
    if (!systemNameExists('/etc/passwd', user)) continue;
    const group = [user, 'nogroup', 'nobody'].find((g) => systemNameExists('/etc/group', g)) ?? user;
    return { user, group };
  }
  return { user: 'nobody', group: 'nogroup' };
}

/** Numeric ids of a user and group, from /etc/passwd and /etc/group. */
function systemIds(user: string, group: string): { uid: number; gid: number } {
  const field = (file: string, name: string): number => {
    const line = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(name + ':'));
    if (line === undefined) throw new Error(`${name} not found in ${file}`);
    return Number(line.split(':')[2]);
  };
  return { uid: field('/etc/passwd', user), gid: field('/etc/group', group) };
}

export function runAsLines(name: FrontEndName): string {
  if (!isRoot) return '# not started as root: everything runs as the invoking user';
  const { user, group } = runAsUser(name);
  switch (name) {
    case 'nginx':
      return `user ${user} ${group};`;
    case 'apache':
      return `User ${user}\nGroup ${group}`;
    case 'lighttpd':
      return `server.username = "${user}"\nserver.groupname = "${group}"`;
    case 'haproxy':
      return `    user ${user}\n    group ${group}`;
    case 'caddy':
      return '# Caddy has no user option: it runs as whoever starts it';
    case 'h2o':
      // No `user`: started by root, h2o runs as nobody, and so does what fastcgi.spawn starts.
      return '# started by root without `user`, h2o and its fastcgi.spawn child run as nobody';
  }
}

/** State letter of a process from /proc (undefined: gone; 'Z': zombie). */
function procState(pid: number): { state: string; pgrp: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '?', pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/** Whether a PID belongs to a live (non-zombie) process. */
export function pidAlive(pid: number): boolean {
  if (fs.existsSync('/proc/self/stat')) {
    const st = procState(pid);
    return st !== undefined && st.state !== 'Z' && st.state !== 'X';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Live (non-zombie) members of a process group; zombies orphaned to a non-reaping init don't count. */
function groupMembers(pgid: number): number[] {
  if (!fs.existsSync('/proc/self/stat')) {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch {
      return [];
    }
  }
  const members: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = procState(Number(entry));
    if (st && st.pgrp === pgid && st.state !== 'Z' && st.state !== 'X') members.push(Number(entry));
  }
  return members;
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Whether `promise` settles within `ms` (the timer is cleared either way, so jest can exit). */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// Safety net: a test that forgets stop() must not leave front ends running after the worker exits.
const live = new Set<{ pid: number; stop(): Promise<void> }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const instance of live) killGroup(instance.pid, 'SIGKILL');
  });
}

/** Stops every front end this process started and has not stopped yet (for afterAll). */
export async function stopAllFrontEnds(): Promise<void> {
  await Promise.all([...live].map((instance) => instance.stop()));
}

// ---------------------------------------------------------------------------------------------
// Config rendering

interface ParsedAddress {
  kind: 'unix' | 'tcp';
  path: string;
  host: string;
  port: number;
}

function parseUpstream(spec: string): ParsedAddress {
  if (spec.startsWith('unix:') || spec.startsWith('/')) {
    const socketPath = spec.startsWith('unix:') ? spec.slice(5) : spec;
    if (!socketPath.startsWith('/')) throw new Error(`upstream socket path must be absolute: ${spec}`);
    return { kind: 'unix', path: socketPath, host: '', port: 0 };
  }
  const match = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(spec);
  if (!match) throw new Error(`upstream must be 'unix:/path' or 'IPv4:port', got ${JSON.stringify(spec)}`);
  return { kind: 'tcp', path: '', host: match[1]!, port: Number(match[2]) };
}

interface Rewrite {
  find: string;
  replace: string;
  /** The token must occur in the deploy file (else the file drifted from the harness). */
  required: boolean;
}

/** Whether a deploy file runs `sluice bridge` as a CGI program rather than proxying. */
function isBridge(deployFile: string): boolean {
  return path.basename(deployFile).includes('bridge');
}

function protocolOf(deployFile: string, upstream?: Upstream): Protocol {
  const base = path.basename(deployFile);
  // The bridge speaks either protocol: FastCGI, as shipped, unless the test gives only an SCGI upstream.
  if (isBridge(deployFile))
    return upstream?.fastcgi === undefined && upstream?.scgi !== undefined ? 'scgi' : 'fastcgi';
  // Caddy speaks FastCGI only; its config is conventionally named Caddyfile.
  if (base.toLowerCase().includes('caddyfile')) return 'fastcgi';
  // Authorizers exist in FastCGI only (Apache's mod_authnz_fcgi).
  if (base.includes('fastcgi') || base.includes('fcgi') || base.includes('authorizer')) return 'fastcgi';
  if (base.includes('scgi')) return 'scgi';
  throw new Error(`cannot tell SCGI from FastCGI by the name of ${deployFile}`);
}

/** The exact substitutions applied to each front end's deploy files (documented in their headers). */
export function deployRewrites(
  name: FrontEndName,
  protocol: Protocol,
  upstream: string,
  port: number,
  prefix: string,
  authorizer?: string,
  bridge = false,
  http2Port?: number,
  spawn?: string,
  documentRoot?: string,
): Array<{ find: string; replace: string; required: boolean }> {
  if (spawn !== undefined) {
    const command: Rewrite = { find: CANONICAL_SPAWNED.command, replace: spawn, required: true };
    if (name === 'h2o') return [...h2oRewrites(port, prefix), command];
    if (name !== 'lighttpd') throw new Error('options.spawn is for lighttpd and h2o only');
    return [
      {
        find: CANONICAL_SPAWNED.socket,
        replace: `"socket" => "${prefix}/sockets/sluice.sock"`,
        required: true,
      },
      command,
    ];
  }
  if (documentRoot !== undefined) {
    if (name !== 'apache') throw new Error('options.documentRoot is for Apache (mod_fcgid) only');
    return [
      { find: '<VirtualHost *:80>', replace: `<VirtualHost *:${port}>`, required: true },
      { find: CANONICAL_FCGID_ROOT, replace: documentRoot, required: true },
    ];
  }
  const up = parseUpstream(upstream);
  const canonical = CANONICAL[protocol];
  const rewrites: Rewrite[] = [];
  if (bridge) {
    if (name !== 'apache') throw new Error(`no CGI-bridge deploy file for ${name}`);
    return [
      { find: '<VirtualHost *:80>', replace: `<VirtualHost *:${port}>`, required: true },
      {
        find: `"unix:${CANONICAL.fastcgi.socket}"`,
        replace: up.kind === 'unix' ? `"unix:${up.path}"` : `"${up.host}:${up.port}"`,
        required: true,
      },
      {
        find: 'SetEnv SLUICE_PROTOCOL fastcgi',
        replace: `SetEnv SLUICE_PROTOCOL ${protocol}`,
        required: true,
      },
      { find: CANONICAL_BRIDGE_DIR, replace: `${prefix}/cgi-bin/`, required: true },
    ];
  }
  if (http2Port !== undefined && name !== 'nginx') throw new Error('options.http2 is for nginx only');
  switch (name) {
    case 'nginx':
      rewrites.push(
        {
          find: 'listen 80;',
          replace:
            `listen 127.0.0.1:${port};` +
            (http2Port === undefined ? '' : ` listen 127.0.0.1:${http2Port} http2;`),
          required: true,
        },
        {
          find: `unix:${canonical.socket}`,
          replace: up.kind === 'unix' ? `unix:${up.path}` : `${up.host}:${up.port}`,
          required: true,
        },
        { find: '/var/log/nginx/', replace: `${prefix}/logs/`, required: false },
      );
      break;
    case 'apache': {
      const scheme = protocol === 'scgi' ? 'scgi' : 'fcgi';
      rewrites.push(
        { find: '<VirtualHost *:80>', replace: `<VirtualHost *:${port}>`, required: true },
        {
          find: `"unix:${canonical.socket}|${scheme}://localhost/"`,
          replace:
            up.kind === 'unix'
              ? `"unix:${up.path}|${scheme}://localhost/"`
              : `"${scheme}://${up.host}:${up.port}/"`,
          required: true,
        },
      );
      if (authorizer !== undefined) {
        const auth = parseUpstream(authorizer);
        if (auth.kind !== 'tcp')
          throw new Error(`mod_authnz_fcgi reaches authorizers over TCP only: ${authorizer}`);
        rewrites.push({
          find: CANONICAL_AUTHORIZER,
          replace: `fcgi://${auth.host}:${auth.port}/`,
          required: true,
        });
      }
      break;
    }
    case 'lighttpd':
      rewrites.push({
        find: `"socket" => "${canonical.socket}"`,
        replace:
          up.kind === 'unix' ? `"socket" => "${up.path}"` : `"host" => "${up.host}", "port" => ${up.port}`,
        required: true,
      });
      break;
    case 'haproxy':
      if (protocol !== 'fastcgi') throw new Error('HAProxy speaks FastCGI only (no SCGI support)');
      rewrites.push(
        { find: 'bind :80', replace: `bind 127.0.0.1:${port}`, required: true },
        // HAProxy takes a Unix socket as a bare absolute path.
        {
          find: canonical.tcp,
          replace: up.kind === 'unix' ? up.path : `${up.host}:${up.port}`,
          required: true,
        },
      );
      break;
    case 'caddy':
      if (protocol !== 'fastcgi') throw new Error('Caddy speaks FastCGI only (no SCGI support)');
      rewrites.push(
        // A site address of a port alone; the test wrapper's default_bind keeps it on loopback.
        { find: ':80 {', replace: `:${port} {`, required: true },
        // Caddy's network address form: unix/ followed by the absolute path.
        {
          find: `unix/${canonical.socket}`,
          replace: up.kind === 'unix' ? `unix/${up.path}` : `${up.host}:${up.port}`,
          required: true,
        },
        { find: '/var/log/caddy/', replace: `${prefix}/logs/`, required: false },
      );
      break;
    case 'h2o':
      if (protocol !== 'fastcgi') throw new Error('h2o speaks FastCGI only (no SCGI support)');
      if (up.kind !== 'unix') throw new Error('the h2o deploy files reach sluice over a Unix socket only');
      rewrites.push(...h2oRewrites(port, prefix), {
        find: `port: ${canonical.socket}`,
        replace: `port: ${up.path}`,
        required: true,
      });
      break;
  }
  return rewrites;
}

/** What every h2o deploy file has rewritten: its listener and its log directory. */
function h2oRewrites(port: number, prefix: string): Rewrite[] {
  return [
    // The flow form keeps the rewrite on one line; the test listens on loopback only.
    { find: 'listen: 80', replace: `listen: { host: 127.0.0.1, port: ${port} }`, required: true },
    { find: '/var/log/h2o/', replace: `${prefix}/logs/`, required: true },
  ];
}

function renderDeploy(
  name: FrontEndName,
  deployFile: string,
  text: string,
  upstreamSpec: string,
  port: number,
  prefix: string,
  authorizer?: string,
  protocol: Protocol = protocolOf(deployFile),
  http2Port?: number,
  spawn?: string,
  documentRoot?: string,
): string {
  const rewrites = deployRewrites(
    name,
    protocol,
    upstreamSpec,
    port,
    prefix,
    authorizer,
    isBridge(deployFile),
    http2Port,
    spawn,
    documentRoot,
  );
  const used = new Set<string>();
  // Rewrite active lines only: comments keep the canonical values users read, and a token that
  // survives only in a comment must not count as present.
  const lines = text.split('\n').map((line, index) => {
    if (line.trim().startsWith('#')) return line;
    let out = line;
    for (const rewrite of rewrites) {
      if (!out.includes(rewrite.find)) continue;
      used.add(rewrite.find);
      out = out.split(rewrite.find).join(rewrite.replace);
    }
    // A canonical path left on an active line would point the test at production paths.
    if (out.includes('/run/sluice/')) {
      throw new Error(
        `${deployFile}:${index + 1}: "/run/sluice/" survived the harness rewrite on an active line: ` +
          `${out.trim()}; use the canonical values (see the file's header) or extend test/helpers/frontends.ts`,
      );
    }
    // Likewise the canonical authorizer: the test would ask whatever listens on port 9001.
    if (out.includes(CANONICAL_AUTHORIZER)) {
      throw new Error(
        `${deployFile}:${index + 1}: ${CANONICAL_AUTHORIZER} survived the harness rewrite on an active ` +
          `line: ${out.trim()}; pass upstream.authorizer ('127.0.0.1:PORT') to startFrontEnd`,
      );
    }
    return out;
  });
  for (const rewrite of rewrites) {
    if (rewrite.required && !used.has(rewrite.find)) {
      throw new Error(
        `${deployFile} no longer contains ${JSON.stringify(rewrite.find)} on an active line, which the ` +
          `test harness rewrites; keep the canonical values (see the file's header) or update ` +
          `test/helpers/frontends.ts`,
      );
    }
  }
  return lines.join('\n');
}

/** Fills @NAME@ placeholders on active lines; comment lines (which document them) stay as written. */
export function renderTemplate(template: string, values: Record<string, string>, source: string): string {
  return template
    .split('\n')
    .map((line, index) => {
      if (line.trim().startsWith('#')) return line;
      return line.replace(/@([A-Z_]+)@/g, (whole, key: string) => {
        const value = values[key];
        if (value === undefined) throw new Error(`${source}:${index + 1}: unknown placeholder ${whole}`);
        return value;
      });
    })
    .join('\n');
}

let nginxConfDirCache: string | undefined;
/** Directory of the stock nginx.conf (for scgi_params, fastcgi_params, mime.types). */
export function nginxConfDir(): string {
  if (nginxConfDirCache) return nginxConfDirCache;
  for (const dir of ['/etc/nginx', '/usr/local/etc/nginx', '/usr/local/nginx/conf']) {
    if (fs.existsSync(path.join(dir, 'fastcgi_params'))) return (nginxConfDirCache = dir);
  }
  return (nginxConfDirCache = '/etc/nginx');
}

const APACHE_MODULE_DIRS = [
  process.env.APACHE_MODULES_DIR,
  '/usr/lib/apache2/modules',
  '/usr/lib64/httpd/modules',
  '/usr/lib/httpd/modules',
  '/usr/libexec/apache2',
].filter((dir): dir is string => Boolean(dir));

function apacheModulesDirOrUndefined(): string | undefined {
  return APACHE_MODULE_DIRS.find((dir) => fs.existsSync(path.join(dir, 'mod_proxy.so')));
}

function apacheModulesDir(): string {
  const dir = apacheModulesDirOrUndefined();
  if (dir === undefined)
    throw new Error(`Apache modules (mod_proxy.so) not found in ${APACHE_MODULE_DIRS.join(', ')}`);
  return dir;
}

interface Layout {
  configFile: string;
  deployFile: string;
  argv: string[];
  /** Added to the environment it runs in. */
  env?: Record<string, string>;
}

/**
 * The shipped bridge wrapper, as the web server's user runs it: deploy/cgi/sluice-bridge.cgi with only
 * the sluice command replaced by this node and a copy of bin/sluice, into <prefix>/cgi-bin/. The copy
 * (bin/, dist/, package.json in <prefix>/sluice/) is there because that user (www-data under root)
 * may not read the checkout: a clone in /root, mode 0700.
 */
function renderBridgeScript(prefix: string): void {
  const staged = path.join(prefix, 'sluice');
  stageFiles(staged, BRIDGE_FILES);
  const source = path.join(REPO_ROOT, BRIDGE_SCRIPT);
  const text = fs.readFileSync(source, 'utf8');
  const command = '/usr/bin/sluice';
  const active = text.split('\n').filter((line) => !line.trim().startsWith('#') && line.includes(command));
  if (active.length !== 1) {
    throw new Error(
      `${BRIDGE_SCRIPT} must run ${command} on exactly one active line (the harness rewrites it)`,
    );
  }
  const rendered = text
    .split('\n')
    .map((line) =>
      line.trim().startsWith('#')
        ? line
        : line.replace(command, `'${process.execPath}' '${path.join(staged, 'bin', 'sluice')}'`),
    )
    .join('\n');
  const dir = path.join(prefix, 'cgi-bin');
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o755);
  const target = path.join(dir, path.basename(BRIDGE_SCRIPT));
  fs.writeFileSync(target, rendered, { mode: 0o755 });
  fs.chmodSync(target, 0o755);
}

function prepare(
  name: FrontEndName,
  binary: string,
  deployFile: string,
  protocol: Protocol,
  upstreamSpec: string,
  authorizer: string | undefined,
  port: number,
  http2Port: number | undefined,
  prefix: string,
  options: StartOptions,
): Layout {
  for (const dir of ['logs', 'tmp', 'run', 'htdocs'])
    fs.mkdirSync(path.join(prefix, dir), { recursive: true });
  // Workers run unprivileged (www-data/haproxy): they must traverse the prefix, and lighttpd opens
  // its logs and temp files only after dropping root.
  fs.chmodSync(prefix, 0o755);
  fs.chmodSync(path.join(prefix, 'logs'), 0o1777);
  fs.chmodSync(path.join(prefix, 'tmp'), 0o1777);
  if (options.spawn !== undefined && name === 'lighttpd') {
    // Private to the user lighttpd runs as, like Debian's /run/lighttpd (0750 www-data).
    const sockets = path.join(prefix, 'sockets');
    fs.mkdirSync(sockets, { mode: 0o700 });
    if (isRoot) {
      const { user, group } = runAsUser(name);
      const { uid, gid } = systemIds(user, group);
      fs.chownSync(sockets, uid, gid);
    }
  }

  const deploySource = path.resolve(REPO_ROOT, deployFile);
  const deployText = fs.readFileSync(deploySource, 'utf8');
  const rendered = renderDeploy(
    name,
    deployFile,
    deployText,
    upstreamSpec,
    port,
    prefix,
    authorizer,
    protocol,
    http2Port,
    options.spawn,
    options.documentRoot,
  );
  const renderedDeploy = path.join(prefix, path.basename(deployFile));
  fs.writeFileSync(renderedDeploy, rendered);
  if (isBridge(deployFile)) renderBridgeScript(prefix);

  const wrapperName = {
    nginx: 'nginx.conf',
    apache: 'httpd.conf',
    lighttpd: 'lighttpd.conf',
    haproxy: 'haproxy.cfg',
    caddy: 'caddy.Caddyfile',
    h2o: 'h2o.conf',
  }[name];
  const values: Record<string, string> = {
    PREFIX: prefix,
    PORT: String(port),
    DEPLOY: renderedDeploy,
    RUN_AS: runAsLines(name),
    EXTRA: options.extra ?? '',
  };
  if (name === 'apache') values.MODULES = apacheModulesDir();
  const wrapperSource = path.join(WRAPPER_DIR, wrapperName);
  const configFile = path.join(prefix, wrapperName);
  fs.writeFileSync(configFile, renderTemplate(fs.readFileSync(wrapperSource, 'utf8'), values, wrapperSource));

  switch (name) {
    case 'nginx':
      // Relative includes (scgi_params, fastcgi_params, mime.types) resolve next to -c's file.
      for (const file of ['scgi_params', 'fastcgi_params', 'mime.types']) {
        const source = path.join(nginxConfDir(), file);
        if (fs.existsSync(source)) fs.copyFileSync(source, path.join(prefix, file));
      }
      return {
        configFile,
        deployFile: renderedDeploy,
        argv: [binary, '-p', prefix + '/', '-c', configFile, '-e', path.join(prefix, 'logs', 'error.log')],
      };
    case 'apache':
      return {
        configFile,
        deployFile: renderedDeploy,
        argv: [
          ...[binary, '-d', prefix, '-f', configFile, '-DFOREGROUND'],
          ...(options.documentRoot === undefined ? [] : ['-DSLUICE_FCGID']),
        ],
      };
    case 'lighttpd':
      return { configFile, deployFile: renderedDeploy, argv: [binary, '-D', '-f', configFile] };
    case 'haproxy':
      return {
        configFile,
        deployFile: renderedDeploy,
        argv: [binary, '-db', '-f', configFile, '-f', renderedDeploy],
      };
    case 'caddy':
      // Caddy keeps its autosaved config, certificates and locks under these: inside the prefix,
      // never in the invoking user's home.
      for (const dir of ['config', 'data']) fs.mkdirSync(path.join(prefix, dir), { recursive: true });
      return {
        configFile,
        deployFile: renderedDeploy,
        argv: [binary, 'run', '--config', configFile, '--adapter', 'caddyfile'],
        env: {
          HOME: prefix,
          XDG_CONFIG_HOME: path.join(prefix, 'config'),
          XDG_DATA_HOME: path.join(prefix, 'data'),
        },
      };
    case 'h2o':
      // h2o reads one file and has no include for a whole config: the shipped one, rendered, comes
      // first and the test wrapper's top-level keys (which the deploy files do not set) follow.
      fs.writeFileSync(configFile, rendered + '\n' + fs.readFileSync(configFile, 'utf8'));
      return { configFile, deployFile: renderedDeploy, argv: [binary, '-c', configFile] };
  }
}

function readLogs(prefix: string): string {
  const dir = path.join(prefix, 'logs');
  let files: string[];
  try {
    files = fs.readdirSync(dir).sort();
  } catch {
    return '';
  }
  return files
    .map((file) => {
      let text: string;
      try {
        text = fs.readFileSync(path.join(dir, file), 'utf8');
      } catch (err) {
        text = `(unreadable: ${(err as Error).message})`;
      }
      return `==> ${file} <==\n${text}`;
    })
    .join('\n');
}

/** Resolves true once something answers HTTP on the port (a 400 to a junk request line suffices). */
function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    // A request line without a target: every front end answers 400 itself, never the upstream.
    socket.on('connect', () => socket.write('HARNESS-PROBE\r\n\r\n'));
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      if (data.length >= 5) done(data.startsWith('HTTP/'));
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(data.startsWith('HTTP/')));
  });
}

// ---------------------------------------------------------------------------------------------
// Start / stop

/**
 * Starts `name` with the shipped `deployFile` (path relative to the repo root, e.g.
 * 'deploy/nginx/sluice-scgi.conf') pointed at `upstream`, on 127.0.0.1 and a free port.
 * Resolves once it answers HTTP; rejects with its logs if it exits or does not answer in time.
 */
export async function startFrontEnd(
  name: FrontEndName,
  deployFile: string,
  upstream: Upstream,
  options: StartOptions = {},
): Promise<FrontEnd> {
  const binary = findBinary(name);
  if (binary === undefined) {
    requireBinary(name); // throws under CI
    throw new Error(
      `${name} is not installed (${BINARIES[name].join(' or ')} not found); guard with requireBinary()`,
    );
  }
  const protocol = protocolOf(deployFile, upstream);
  // A spawning deploy file has the front end make the sockets: there is no upstream to point it at.
  const spawning = options.spawn !== undefined || options.documentRoot !== undefined;
  const upstreamSpec = upstream[protocol] ?? (spawning ? '' : undefined);
  if (upstreamSpec === undefined) throw new Error(`${deployFile} needs upstream.${protocol}`);
  if (upstream.authorizer !== undefined && name !== 'apache') {
    throw new Error('upstream.authorizer is for Apache (mod_authnz_fcgi) deploy files only');
  }

  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(name, binary, deployFile, protocol, upstreamSpec, upstream.authorizer, options);
    } catch (err) {
      lastError = err as Error;
      // Another process took the port between freePort() and bind(): try a new one.
      if (!/Address already in use|EADDRINUSE/i.test(lastError.message)) throw lastError;
    }
  }
  throw lastError;
}

async function startOnce(
  name: FrontEndName,
  binary: string,
  deployFile: string,
  protocol: Protocol,
  upstreamSpec: string,
  authorizer: string | undefined,
  options: StartOptions,
): Promise<FrontEnd> {
  const port = await freePort();
  const http2Port = options.http2 ? await freePort() : undefined;
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), `sluice-${name}-`));
  const keepPrefix = options.keepPrefix ?? process.env.SLUICE_KEEP_FRONTEND_PREFIX === '1';
  const removePrefix = () => {
    if (!keepPrefix) fs.rmSync(prefix, { recursive: true, force: true });
  };

  let layout: Layout;
  try {
    layout = prepare(
      name,
      binary,
      deployFile,
      protocol,
      upstreamSpec,
      authorizer,
      port,
      http2Port,
      prefix,
      options,
    );
  } catch (err) {
    removePrefix();
    throw err;
  }

  const stdout = fs.openSync(path.join(prefix, 'logs', 'stdout.log'), 'a');
  const stderr = fs.openSync(path.join(prefix, 'logs', 'stderr.log'), 'a');
  let child: ChildProcess;
  try {
    child = spawn(layout.argv[0]!, layout.argv.slice(1), {
      cwd: prefix,
      // Own process group (pgid = pid), so workers can be killed together and none outlive stop().
      detached: true,
      stdio: ['ignore', stdout, stderr],
      env: { ...process.env, LANG: 'C', ...layout.env },
    });
  } finally {
    fs.closeSync(stdout);
    fs.closeSync(stderr);
  }

  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve();
    });
    child.once('error', (err) => {
      exitInfo = { code: null, signal: null };
      fs.appendFileSync(path.join(prefix, 'logs', 'stderr.log'), `spawn error: ${err.message}\n`);
      resolve();
    });
  });
  const pid = child.pid ?? -1;

  let finalLog: string | undefined;
  let stopping: Promise<void> | undefined;
  const errorLog = () => finalLog ?? readLogs(prefix);
  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;

  const waitExit = (ms: number) => settlesWithin(exited, ms);

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (pid > 0) {
        if (!exitInfo) {
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            // already gone
          }
          if (!(await waitExit(stopTimeoutMs))) {
            killGroup(pid, 'SIGKILL');
            await waitExit(stopTimeoutMs);
          }
        }
        // Workers/children exit after their master; wait for the whole group, then force it.
        const deadline = Date.now() + stopTimeoutMs;
        while (groupMembers(pid).length > 0 && Date.now() < deadline) await sleep(25);
        if (groupMembers(pid).length > 0) {
          killGroup(pid, 'SIGKILL');
          const hardDeadline = Date.now() + 2000;
          while (groupMembers(pid).length > 0 && Date.now() < hardDeadline) await sleep(25);
        }
      }
      finalLog = readLogs(prefix);
      live.delete(instance);
      removePrefix();
    })();
    return stopping;
  };
  const instance = { pid, stop };
  installExitHook();
  live.add(instance);

  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exitInfo) {
      await stop();
      throw new Error(
        `${name} exited during startup (code ${exitInfo.code}, signal ${exitInfo.signal})\n` +
          `command: ${layout.argv.join(' ')}\n${errorLog()}`,
      );
    }
    if (await probe(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `${name} did not answer on 127.0.0.1:${port} within ${readyTimeoutMs} ms\n${errorLog()}`,
      );
    }
    await sleep(25);
  }

  return {
    name,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    http2Port,
    pid,
    prefix,
    configFile: layout.configFile,
    deployFile: layout.deployFile,
    stop,
    errorLog,
    running: () => exitInfo === undefined,
  };
}
