// The `sluice` command line: parses flags, starts the daemon, maps failures to exit codes.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { InterfaceName } from './adapters/detect';
import { addClientCommands } from './commands/program';
import { Daemon, type ListenerSpec } from './daemon';
import { SluiceError, UsageError } from './errors';
import { parseAddress } from './gateway/address';
import { peerFilter } from './gateway/allow';
import { createLogger } from './gateway/logger';
import { resolveLimits, type Limits } from './limits';
import { loadApp, parseAppSpec } from './load-app';
import { catchErrors } from './middleware/catch-errors';
import { VERSION } from './version';

/** Exit codes, as documented in docs/cli.md. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

interface ServeFlags {
  scgi: string[];
  fastcgi: string[];
  http: string[];
  mount: string;
  socketMode: number;
  logLevel: string;
  pretty?: boolean;
  drainTimeout: number;
  maxConnections?: number;
  maxHeaderBytes?: number;
  maxBodyBytes?: number;
  maxParamsBytes?: number;
  maxConnRequests?: number;
  maxRequests?: number;
  bodyMemoryBytes?: number;
  allow: string[];
  interface?: InterfaceName;
  debug?: boolean;
}

const SERVE_EXAMPLES = `
Addresses (ADDR): unix:/path or /path (Unix socket), host:port, [::1]:port, :port (loopback only).

Examples:
  sluice serve examples/hello.mjs --http :8080
  sluice serve app.mjs --scgi unix:/run/sluice/scgi.sock --socket-mode 0660
  sluice serve app.ts:handler --scgi 127.0.0.1:4000 --mount /app --log-level debug

Signals: SIGTERM or SIGINT stops accepting, lets requests in flight finish (up to --drain-timeout),
removes Unix socket files and exits 0.`;

function collect(value: string, previous: string[]): string[] {
  parseAddress(value);
  return [...previous, value];
}

function integer(min: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min)
      throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return Number(value);
  };
}

function octalMode(value: string): number {
  if (!/^0?[0-7]{3}$/.test(value)) throw new InvalidArgumentError('expected an octal mode such as 0660');
  return parseInt(value, 8);
}

function mountPrefix(value: string): string {
  if (value === '' || value === '/') return '';
  if (!value.startsWith('/')) throw new InvalidArgumentError('a mount prefix starts with /');
  return value.replace(/\/+$/, '');
}

export function buildProgram(run: (task: Promise<number>) => void): Command {
  const program = new Command('sluice')
    .description(
      'SCGI and FastCGI application server for Node.js apps behind nginx, Apache httpd or lighttpd',
    )
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });

  program
    .command('serve')
    .description('run an app (environ, startResponse) behind one or more listeners')
    .argument('<app-module>', 'a .js, .mjs, .cjs or .ts file; append :name to pick a named export')
    .option('--scgi <ADDR>', 'listen for SCGI (repeatable)', collect, [])
    .option('--fastcgi <ADDR>', 'listen for FastCGI (repeatable)', collect, [])
    .option('--http <ADDR>', 'development listener speaking plain HTTP (repeatable)', collect, [])
    .option('--mount <PREFIX>', 'SCRIPT_NAME when sluice derives PATH_INFO from REQUEST_URI', mountPrefix, '')
    .addOption(
      new Option('--socket-mode <MODE>', 'mode of Unix socket files, octal')
        .argParser(octalMode)
        .default(0o660, '0660'),
    )
    .addOption(
      new Option('--log-level <LEVEL>', 'log level')
        .choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
        .default('info'),
    )
    .option('--pretty', 'human-readable logs (default when stderr is a terminal)')
    .option('--no-pretty', 'JSON logs even on a terminal')
    .option(
      '--allow <ADDR[,ADDR...]>',
      'TCP peers allowed to connect (addresses or CIDR ranges, repeatable; default: FCGI_WEB_SERVER_ADDRS, else any)',
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .option('--drain-timeout <MS>', 'on stop, wait this long for requests in flight', integer(0), 10_000)
    .option('--max-connections <N>', 'concurrent connections per listener (default 10000)', integer(1))
    .option('--max-header-bytes <N>', 'largest SCGI header block (default 1048576)', integer(1))
    .option(
      '--max-body-bytes <N>',
      'largest request body (default: no limit; the front end enforces its own)',
      integer(0),
    )
    .option(
      '--max-params-bytes <N>',
      'FastCGI: largest PARAMS stream of one request (default 1048576)',
      integer(1),
    )
    .option(
      '--max-conn-requests <N>',
      'FastCGI: concurrent requests on one connection, announced as FCGI_MAX_REQS (default 256)',
      integer(1),
    )
    .option('--max-requests <N>', 'FastCGI: requests in flight in the process (default 10000)', integer(1))
    .option(
      '--body-memory-bytes <N>',
      'FastCGI: unread body bytes held in memory per multiplexed request before spilling to a temp file (default 1048576)',
      integer(0),
    )
    .addOption(
      new Option(
        '--interface <NAME>',
        'what the export is: gateway (environ, startResponse), node (req, res; Express, Koa, Fastify) or fetch (Hono); default: detected',
      ).choices(['gateway', 'node', 'fetch']),
    )
    .option('--debug', 'answer app errors with a page showing the error and stack (development only)')
    .addHelpText('after', SERVE_EXAMPLES)
    .action((appModule: string, flags: ServeFlags) => run(serve(appModule, flags)));

  addClientCommands(program, run, () => ({
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
  }));

  program.addHelpText(
    'after',
    `
Examples:
  sluice serve examples/hello.mjs --http :8080 --scgi unix:/tmp/sluice.sock
  sluice request --connect unix:/tmp/sluice-fastcgi.sock -i /
  sluice serve --help`,
  );
  return program;
}

function listenerSpecs(flags: ServeFlags): ListenerSpec[] {
  const specs: ListenerSpec[] = [
    ...flags.scgi.map((a) => ({ protocol: 'scgi' as const, address: parseAddress(a) })),
    ...flags.fastcgi.map((a) => ({ protocol: 'fastcgi' as const, address: parseAddress(a) })),
    ...flags.http.map((a) => ({ protocol: 'http' as const, address: parseAddress(a) })),
  ];
  if (specs.length === 0) {
    throw new UsageError('ERR_USAGE_NO_LISTENER', 'give at least one of --scgi, --fastcgi or --http');
  }
  return specs;
}

function limitsFrom(flags: ServeFlags): Limits {
  const overrides: { -readonly [K in keyof Limits]?: Limits[K] } = {};
  if (flags.maxConnections !== undefined) overrides.maxConnections = flags.maxConnections;
  if (flags.maxHeaderBytes !== undefined) overrides.scgiMaxHeaderBytes = flags.maxHeaderBytes;
  if (flags.maxBodyBytes !== undefined) overrides.maxBodyBytes = flags.maxBodyBytes;
  if (flags.maxParamsBytes !== undefined) overrides.fcgiMaxParamsBytes = flags.maxParamsBytes;
  if (flags.maxConnRequests !== undefined) overrides.fcgiMaxRequestsPerConnection = flags.maxConnRequests;
  if (flags.maxRequests !== undefined) overrides.maxRequests = flags.maxRequests;
  if (flags.bodyMemoryBytes !== undefined) overrides.fcgiStdinMemoryBytes = flags.bodyMemoryBytes;
  return resolveLimits(overrides);
}

async function serve(appModule: string, flags: ServeFlags): Promise<number> {
  const listeners = listenerSpecs(flags);
  const allowSpecs = flags.allow.length > 0 ? flags.allow : [process.env.FCGI_WEB_SERVER_ADDRS ?? ''];
  const allow = allowSpecs.join('').trim() === '' ? null : peerFilter(allowSpecs);
  const log = createLogger({ level: flags.logLevel as 'info', pretty: flags.pretty });
  const loaded = await loadApp(parseAppSpec(appModule), { interface: flags.interface, log });
  const app = flags.debug ? catchErrors({ debug: true })(loaded) : loaded;
  const daemon = new Daemon({
    context: {
      app,
      log,
      limits: limitsFrom(flags),
      environ: { mount: flags.mount },
      multiprocess: false,
      load: { active: 0 },
    },
    listeners,
    socketMode: flags.socketMode,
    allow,
  });
  try {
    await daemon.start();
  } catch (error) {
    await daemon.stop(0);
    throw error;
  }
  // Handlers go in before 'ready' is announced: whoever waits for that line may signal at once.
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting at once');
        resolve(EXIT.FAILURE);
        return;
      }
      stopping = true;
      log.info({ signal, drainTimeoutMs: flags.drainTimeout }, 'stopping');
      void daemon.stop(flags.drainTimeout).then(() => {
        log.info('stopped');
        resolve(EXIT.OK);
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  log.info({ version: VERSION, node: process.version }, 'ready');
  return stopped;
}

/** Runs the CLI and resolves with the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let task: Promise<number> = Promise.resolve(EXIT.OK);
  const program = buildProgram((t) => (task = t));
  try {
    await program.parseAsync([...argv]);
    return await task;
  } catch (error) {
    return exitCodeFor(error);
  }
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.OK;
    if (error.code === 'commander.help') return EXIT.OK;
    return EXIT.USAGE;
  }
  if (error instanceof UsageError) {
    process.stderr.write(`sluice: ${error.message}\n`);
    return EXIT.USAGE;
  }
  if (error instanceof SluiceError) {
    process.stderr.write(`sluice: ${error.message}\n`);
    if (error.cause instanceof Error && error.cause.stack) process.stderr.write(error.cause.stack + '\n');
    return EXIT.FAILURE;
  }
  process.stderr.write(`sluice: ${(error as Error)?.stack ?? String(error)}\n`);
  return EXIT.FAILURE;
}
