// The `sluice` command line: parses flags and config files, starts the daemon, maps failures to exit codes.
import cluster from 'node:cluster';
import { Command, InvalidArgumentError, Option } from 'commander';
import { addClientCommands } from './commands/program';
import { readConfigFile } from './settings/config-file';
import { EXIT, exitCodeFor } from './process/exit-codes';
import { mergeOptions, type GivenOptions, type ServeOptions } from './settings/options';
import { BadValue } from './settings/parse';
import { settingsReport } from './settings/report';
import { helpText, OPTIONS, type OptionSpec } from './settings/table';
import { checkServeOptions, listenerSpecs, serve } from './process/serve';
import { staticMounts } from './process/static-mounts';
import { runWorker } from './process/supervisor/worker';
import { VERSION } from './common/version';

export { EXIT };

const SERVE_EXAMPLES = `
Addresses (ADDR): unix:/path or /path (Unix socket), host:port, [::1]:port, :port (loopback only).
Sockets passed by systemd (LISTEN_FDS) are served too, each by the protocol its name says.

Examples:
  sluice serve examples/hello.mjs --http :8080
  sluice serve app.mjs --fastcgi unix:/run/sluice/fastcgi.sock --socket-mode 0660 --workers auto
  sluice serve app.ts:handler --scgi 127.0.0.1:4000 --mount /app --log-level debug
  sluice serve --config /etc/sluice/app.json --workers 4

Config file: JSON whose keys are the long flags in camelCase ("maxRequests": 1000), plus "app";
flags given on the command line win over it.

Signals (to the primary, or the only process with --workers 0):
  SIGTERM, SIGINT  stop accepting, let requests in flight finish (up to --drain-timeout), exit 0;
                   a second one exits at once with code 1
  SIGHUP           reload: read --config again and start new workers with the app loaded afresh;
                   old workers finish their requests and retire once the new ones serve.
                   Listener changes need a restart. Needs --workers 1 or more (the default).
  SIGUSR2          reopen --log-file and --access-log (after logrotate moved them)

Exit codes: 0 stopped cleanly; 1 failure at run time or second signal; 2 usage, config or start-up
error; 3 every worker crash-looping (5 deaths in 10 s).`;

function addOption(command: Command, spec: OptionSpec): void {
  const parse = (value: string, previous: unknown): unknown => {
    let parsed: unknown;
    try {
      parsed = spec.parse(value);
    } catch (error) {
      if (error instanceof BadValue) throw new InvalidArgumentError(error.message);
      throw error;
    }
    return spec.list ? [...((previous as unknown[] | undefined) ?? []), parsed] : parsed;
  };
  if (spec.flag.includes('<')) {
    command.addOption(new Option(spec.flag, helpText(spec)).argParser(parse));
    return;
  }
  command.addOption(new Option(spec.flag, helpText(spec)));
  if (spec.negatable) command.addOption(new Option(`--no-${spec.flag.slice(2)}`).hideHelp());
}

/** The flags given on the command line (never commander's defaults: those come from DEFAULTS). */
function givenFlags(command: Command, app: string | undefined): GivenOptions & { config?: string } {
  const values = command.opts() as Record<string, unknown>;
  const given: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined && command.getOptionValueSource(key) === 'cli') given[key] = value;
  }
  if (app !== undefined) given.app = app;
  return given;
}

/** What the config file gives and what the flags give, apart. */
function givenLayers(flags: GivenOptions & { config?: string }): { file: GivenOptions; cli: GivenOptions } {
  const { config, ...cli } = flags;
  return { file: config === undefined ? {} : readConfigFile(config), cli };
}

/** Defaults, then the config file, then the flags. */
function resolveOptions(flags: GivenOptions & { config?: string }): ServeOptions {
  const { file, cli } = givenLayers(flags);
  return mergeOptions(file, cli);
}

function settingsCommand(program: Command, name: string, description: string): Command {
  const command = program
    .command(name)
    .description(description)
    .argument('[app-module]', 'a .js, .mjs, .cjs or .ts file; append :name to pick a named export')
    .option(
      '--config <FILE>',
      'read settings from a JSON file (keys: the long flags in camelCase); flags win',
    );
  for (const spec of OPTIONS) addOption(command, spec);
  return command;
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

  const serveCommand = settingsCommand(
    program,
    'serve',
    'run an app (environ, startResponse) behind one or more listeners',
  ).addHelpText('after', SERVE_EXAMPLES);
  serveCommand.action((app: string | undefined, _flags: unknown, command: Command) => {
    const flags = givenFlags(command, app);
    run(
      Promise.resolve().then(() => {
        const { file, cli } = givenLayers(flags);
        return serve(mergeOptions(file, cli), () => resolveOptions(flags), {
          workers: 'workers' in cli || 'workers' in file,
        });
      }),
    );
  });

  settingsCommand(
    program,
    'check-config',
    'check flags and --config as `serve` would, print each setting with its unit and source, start nothing',
  ).action((app: string | undefined, _flags: unknown, command: Command) => {
    run(
      Promise.resolve().then(() => {
        const { file, cli } = givenLayers(givenFlags(command, app));
        const options = mergeOptions(file, cli);
        checkServeOptions(options);
        staticMounts(options.static, options.chdir);
        // Systemd-passed sockets are not there to check: only the flags' listeners count here.
        if (options.scgi.length + options.fastcgi.length + options.http.length > 0)
          listenerSpecs(options, []);
        process.stdout.write(
          settingsReport(options, (key) => (key in cli ? 'flag' : key in file ? 'file' : 'default')),
        );
        return EXIT.OK;
      }),
    );
  });

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
  sluice check-config --config /etc/sluice/app.json
  sluice request --connect unix:/tmp/sluice-fastcgi.sock -i /
  sluice serve --help`,
  );
  return program;
}

/** Runs the CLI (or, in a worker process, the worker) and resolves with the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  if (cluster.isWorker) return runWorker();
  let task: Promise<number> = Promise.resolve(EXIT.OK);
  const program = buildProgram((t) => (task = t));
  try {
    await program.parseAsync([...argv]);
    return await task;
  } catch (error) {
    return exitCodeFor(error);
  }
}
