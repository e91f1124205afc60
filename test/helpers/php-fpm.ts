// Starts a private PHP-FPM (Debian's php-fpm) for client tests: a rendered copy of
// test/fixtures/php-fpm/php-fpm.conf in a temp prefix, in the foreground, on a Unix socket, stopped by PID.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fastcgiGetValues } from '../../src/client/fastcgi-client';
import { findBinary, requireBinary } from './frontends';
import { REPO_ROOT } from './daemon';

const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'php-fpm');

export interface PhpFpm {
  /** `unix:<prefix>/php-fpm.sock` */
  address: string;
  /**
   * The PHP script the tests request (SCRIPT_FILENAME): test/fixtures/php-fpm/probe.php, copied into
   * the prefix, as PHP's workers (www-data under root) may not read the checkout.
   */
  probe: string;
  pid: number;
  log(): string;
  stop(): Promise<void>;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Whether php-fpm is installed: under CI=true a missing one throws (a failure, not a skip). */
export function havePhpFpm(): boolean {
  return requireBinary('php-fpm');
}

/** Starts PHP-FPM and resolves once it answers FastCGI GET_VALUES on its socket. */
export async function startPhpFpm(readyTimeoutMs = 10_000): Promise<PhpFpm> {
  const binary = findBinary('php-fpm');
  if (binary === undefined) throw new Error('php-fpm is not installed; guard with havePhpFpm()');
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-php-fpm-'));
  fs.chmodSync(prefix, 0o755);
  const runAs = isRoot ? 'user = www-data\ngroup = www-data' : '; not root: workers run as the invoking user';
  // Comment lines document the placeholders and stay as written.
  const config = fs
    .readFileSync(path.join(FIXTURES, 'php-fpm.conf'), 'utf8')
    .split('\n')
    .map((line) =>
      line.startsWith(';') ? line : line.replace(/@PREFIX@/g, prefix).replace('@RUN_AS@', runAs),
    )
    .join('\n');
  const probe = path.join(prefix, 'probe.php');
  fs.copyFileSync(path.join(FIXTURES, 'probe.php'), probe);
  fs.chmodSync(probe, 0o644);
  const configFile = path.join(prefix, 'php-fpm.conf');
  fs.writeFileSync(configFile, config);
  const output = fs.openSync(path.join(prefix, 'output.log'), 'a');
  const child = spawn(binary, ['-F', '-y', configFile, ...(isRoot ? ['-R'] : [])], {
    detached: true,
    stdio: ['ignore', output, output],
  });
  fs.closeSync(output);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const log = (): string =>
    ['php-fpm.log', 'output.log']
      .map((file) => {
        try {
          return fs.readFileSync(path.join(prefix, file), 'utf8');
        } catch {
          return '';
        }
      })
      .join('\n');
  const stop = async (): Promise<void> => {
    if (!exited) {
      process.kill(child.pid!, 'SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      }, 5000);
      await exit;
      clearTimeout(timer);
    }
    fs.rmSync(prefix, { recursive: true, force: true });
  };
  const address = 'unix:' + path.join(prefix, 'php-fpm.sock');
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exited) {
      const text = log();
      await stop();
      throw new Error(`php-fpm exited during start-up:\n${text}`);
    }
    if (fs.existsSync(path.join(prefix, 'php-fpm.sock'))) {
      const answered = await fastcgiGetValues({ address, timeoutMs: 1000 }).then(
        () => true,
        () => false,
      );
      if (answered) break;
    }
    if (Date.now() > deadline) {
      const text = log();
      await stop();
      throw new Error(`php-fpm did not answer within ${readyTimeoutMs} ms:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { address, probe, pid: child.pid!, log, stop };
}
