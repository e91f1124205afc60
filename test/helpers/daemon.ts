// Runs the sluice daemon (`node bin/sluice serve <app> ...`) as a child process for integration
// tests. Contract relied on: pino JSON lines on stderr; one
//   {"msg":"listening","protocol":"scgi"|"fastcgi"|"http","address":"unix:/p" | "127.0.0.1:41234"}
// per listener (the real port when 0 was asked for), then {"msg":"ready"} once all are up; SIGTERM
// stops it gracefully with exit code 0.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const SLUICE_BIN = path.join(REPO_ROOT, 'bin', 'sluice');

export type ListenerProtocol = 'scgi' | 'fastcgi' | 'http';

export interface DaemonAddresses {
  scgi?: string[];
  fastcgi?: string[];
  http?: string[];
}

export interface Daemon {
  pid: number;
  child: ChildProcess;
  /** Addresses from the "listening" lines, per protocol, in the order logged. */
  addresses: DaemonAddresses;
  /** Everything written to stderr (then stdout, if anything) so far. */
  logs(): string;
  /** stderr lines that parsed as JSON objects. */
  logLines(): Array<Record<string, unknown>>;
  /**
   * Sends `signal` (default SIGTERM) and resolves with the exit code: null when it died of a signal
   * or had to be SIGKILLed after `timeoutMs` (default 10 s).
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartDaemonOptions {
  /** Added to (and overriding) the test process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Working directory, default the repo root (so relative app paths resolve from there). */
  cwd?: string;
  /** How long to wait for {"msg":"ready"} (default 20 s). */
  readyTimeoutMs?: number;
  /** The CLI script run with node (default bin/sluice); for the harness's own tests. */
  bin?: string;
  /** A lower open-file limit (`ulimit -n`) for the daemon and its workers. */
  openFiles?: number;
  /**
   * A command that execs the one after it (keeping the pid), put before sluice's: e.g.
   * test/helpers/listen-fd0.py, which starts it as a web server spawns a FastCGI app.
   */
  launcher?: string[];
  /** Options for node itself, before the CLI script (`node --initial-old-space-size=32 bin/sluice`). */
  nodeArgs?: string[];
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // gone
      }
    }
  });
}

/**
 * Spawns `node bin/sluice serve <app> ...args` and resolves once it logged {"msg":"ready"}.
 * Rejects, with everything it wrote to stderr, if it exits first or is not ready within 20 s
 * (then it is killed).
 */
export function startDaemon(
  app: string,
  args: string[] = [],
  options: StartDaemonOptions = {},
): Promise<Daemon> {
  const bin = options.bin ?? SLUICE_BIN;
  if (!fs.existsSync(bin)) {
    return Promise.reject(new Error(`${bin} does not exist: the sluice CLI is missing (build it first?)`));
  }
  const command = [process.execPath, ...(options.nodeArgs ?? []), bin, 'serve', app, ...args];
  // exec keeps the pid: the test signals and inspects the daemon itself, not a shell.
  if (options.launcher !== undefined) command.unshift(...options.launcher);
  if (options.openFiles !== undefined)
    command.unshift('bash', '-c', `ulimit -n ${options.openFiles} && exec "$@"`, 'bash');
  const child = spawn(command[0], command.slice(1), {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  installExitHook();
  live.add(child);

  let stderr = '';
  let stdout = '';
  let pending = '';
  const lines: Array<Record<string, unknown>> = [];
  const addresses: DaemonAddresses = {};
  let ready = false;
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      live.delete(child);
      resolve(exitInfo);
    });
  });

  const logs = () => (stdout ? `${stderr}\n--- stdout ---\n${stdout}` : stderr);

  return new Promise<Daemon>((resolve, reject) => {
    const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sluice was not ready within ${readyTimeoutMs} ms; stderr:\n${logs()}`));
    }, readyTimeoutMs);

    const onLine = (line: string) => {
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return;
      const record = entry as Record<string, unknown>;
      lines.push(record);
      if (record.msg === 'listening' && typeof record.address === 'string') {
        const protocol = record.protocol;
        if (protocol === 'scgi' || protocol === 'fastcgi' || protocol === 'http') {
          (addresses[protocol] ??= []).push(record.address);
        }
      } else if (record.msg === 'ready' && !ready) {
        ready = true;
        clearTimeout(timer);
        resolve(daemon);
      }
    };

    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf('\n')) !== -1) {
        onLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
    });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not spawn sluice: ${err.message}`));
    });
    void exited.then(({ code, signal }) => {
      if (ready) return;
      clearTimeout(timer);
      // Let the last stderr bytes arrive before reporting.
      setImmediate(() =>
        reject(
          new Error(`sluice exited (code ${code}, signal ${signal}) before "ready"; stderr:\n${logs()}`),
        ),
      );
    });

    const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | null> => {
      if (!exitInfo) {
        child.kill(signal);
        let timer: NodeJS.Timeout | undefined;
        const done = await Promise.race([
          exited.then(() => true),
          new Promise<boolean>((r) => {
            timer = setTimeout(() => r(false), timeoutMs);
          }),
        ]).finally(() => clearTimeout(timer));
        if (!done) {
          child.kill('SIGKILL');
          await exited;
          return null;
        }
      }
      return exitInfo?.code ?? null;
    };

    const daemon: Daemon = {
      pid: child.pid ?? -1,
      child,
      addresses,
      logs,
      logLines: () => lines,
      stop,
      exited,
    };
  });
}

const tempDirs = new Set<string>();
let tempHookInstalled = false;

/**
 * A fresh Unix socket path `<tmp>/sl-XXXXXX/<name>` (the file itself is not created). Kept short:
 * sun_path holds ~107 bytes. The directory is mode 0755 so front-end workers running as
 * www-data/nobody/haproxy can reach a 0666 socket in it (mkdtemp's 0700 would make them fail with
 * EACCES: nginx 502, Apache 503).
 */
export function tempSocketPath(name = 'sluice.sock'): string {
  let base = os.tmpdir();
  if (Buffer.byteLength(path.join(base, 'sl-XXXXXX', name)) > 100 && fs.existsSync('/tmp')) base = '/tmp';
  const dir = fs.mkdtempSync(path.join(base, 'sl-'));
  fs.chmodSync(dir, 0o755);
  const socketPath = path.join(dir, name);
  if (Buffer.byteLength(socketPath) > 100) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `socket path too long for sun_path (${Buffer.byteLength(socketPath)} bytes): ${socketPath}`,
    );
  }
  tempDirs.add(dir);
  if (!tempHookInstalled) {
    tempHookInstalled = true;
    process.on('exit', removeTempSocketDirs);
  }
  return socketPath;
}

/** Removes every directory tempSocketPath() created (also done when the process exits). */
export function removeTempSocketDirs(): void {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/**
 * True when the tests that need root can run. Elsewhere they are skipped with a warning; under
 * CI=true (which runs as root) running without root is a failure.
 */
export function requireRoot(what: string): boolean {
  if (process.getuid!() === 0) return true;
  if (process.env.CI === 'true') throw new Error(`${what} need root; CI=true, so this is a failure`);
  console.warn(`skipping ${what}: they need root`);
  return false;
}
