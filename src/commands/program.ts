// The subcommands beside serve and check-config: the clients request, ping and bridge (listed here for
// --help; bin/sluice runs the bridge without loading commander at all), and init.
import { Command, InvalidArgumentError, Option } from 'commander';
import { BRIDGE_HELP } from '../bridge/args';
import { runInit, TEMPLATES, type InitFlags } from './init';
import { runPing, type PingFlags } from './ping';
import { runRequest, type CommandIo, type RequestFlags } from './request';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function seconds(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0)
    throw new InvalidArgumentError('expected seconds > 0');
  return Number(value);
}

const protocolOption = (): Option =>
  new Option('--protocol <P>', 'fastcgi or scgi (default: SLUICE_PROTOCOL, else fastcgi)').choices([
    'fastcgi',
    'scgi',
  ]);

const REQUEST_HELP = `
PATH-OR-URL is a path such as /x?y=1, or a URL whose scheme, host and port set HTTPS, HTTP_HOST,
SERVER_NAME and SERVER_PORT (default localhost:80). The body goes to stdout as it arrives.

Exit codes: 0 a response below 500, 2 usage, 3 the server is unreachable or timed out, 4 not a valid
FastCGI/SCGI/CGI response, 5 the application answered 5xx, 1 anything else.

Examples:
  sluice request --connect unix:/run/sluice/fastcgi.sock /
  sluice request --connect 127.0.0.1:4000 --protocol scgi -i 'https://example.com/search?q=x'
  sluice request --connect unix:/run/php/php8.2-fpm.sock --env SCRIPT_FILENAME=/var/www/info.php /info.php
  sluice request --connect :9000 -X PUT -H 'Content-Type: application/json' -d @doc.json /docs/1`;

const PING_HELP = `
Without --path, sends FastCGI GET_VALUES, which PHP-FPM and sluice answer without running the app.
With --path, sends a GET and wants a 2xx or 3xx status (the only way over SCGI). PHP-FPM checks
SCRIPT_FILENAME even for its ping.path: add --env SCRIPT_FILENAME=/ping.

Exit codes: 0 it answered, 2 usage, 3 unreachable or timed out, 4 not FastCGI, 5 --path gave another status.

Examples:
  sluice ping --connect unix:/run/sluice/fastcgi.sock
  sluice ping --connect 127.0.0.1:4000 --protocol scgi --path /health
  sluice ping --connect unix:/run/php/php8.2-fpm.sock --path /ping --env SCRIPT_FILENAME=/ping
  ExecStartPost=/usr/bin/sluice ping --connect unix:/run/sluice/fastcgi.sock   (systemd)`;

const INIT_HELP = `
Writes package.json (start and test scripts; sluice as a file: dependency on this sluice's own
directory, frameworks at the versions sluice is tested with), app.mjs, sluice.json (npm start: the
--http listener on 127.0.0.1:8080 and public/ under /static/), test/app.test.mjs (node:test, no
front end needed) and deploy/ (sluice.production.json, a systemd unit, nginx and Apache sites)
filled in with the project's name and path.

Exit codes: 0 written, 2 the directory is not empty (without --force), its path cannot be written
into the deploy snippets, or the files cannot be written.

Examples:
  sluice init blog && cd blog && npm install && npm test && npm start
  sluice init api --template fastify`;

/** Adds `request`, `ping`, `bridge` and `init` to the program; `run` receives each command's exit code. */
export function addClientCommands(
  program: Command,
  run: (task: Promise<number>) => void,
  io: () => CommandIo,
): void {
  program
    .command('request')
    .description('send one request to a FastCGI or SCGI server and print the response (a curl for them)')
    .argument('<path-or-url>', 'a path such as /x?y=1, or an http(s):// URL')
    .option('--connect <ADDR>', 'the server: unix:/path, /path, host:port, :port (default: SLUICE_CONNECT)')
    .addOption(protocolOption())
    .option('-X, --request <METHOD>', 'request method (default GET, or POST with -d)')
    .option('-H, --header <LINE>', "a request header, 'Name: value' (repeatable)", collect, [])
    .option('-d, --data <DATA>', 'request body: text, @file, or @- for stdin')
    .option('--env <NAME=VALUE>', 'set or replace a CGI variable, last (repeatable)', collect, [])
    .option('-i, --include', 'print the status line and headers before the body')
    .option('--timeout <S>', 'seconds without progress before giving up', seconds, 60)
    .addHelpText('after', REQUEST_HELP)
    .action((target: string, flags: RequestFlags) => run(runRequest(target, flags, io())));

  program
    .command('ping')
    .description('check that a FastCGI server answers (GET_VALUES), or that a path answers 2xx/3xx')
    .option('--connect <ADDR>', 'the server (default: SLUICE_CONNECT)')
    .addOption(protocolOption())
    .option('--path <PATH>', 'send a GET for this path instead of GET_VALUES')
    .option('--env <NAME=VALUE>', 'set a CGI variable of the --path request (repeatable)', collect, [])
    .option('--timeout <S>', 'seconds before giving up', seconds, 10)
    .addHelpText('after', PING_HELP)
    .action((flags: PingFlags) => run(runPing(flags, io())));

  program
    .command('init')
    .description('write a runnable project: an app from a template, its config, a test and deploy snippets')
    .argument('<dir>', 'the project directory, made if missing; its last part names the project')
    .addOption(new Option('--template <NAME>', 'the kind of app').choices(TEMPLATES).default('gateway'))
    .option('--force', 'write into a directory that is not empty, replacing files of the same names')
    .addHelpText('after', INIT_HELP)
    .action((dir: string, flags: InitFlags) => run(Promise.resolve().then(() => runInit(dir, flags, io()))));

  program
    .command('bridge')
    .description(
      'run as a CGI program, forwarding the request to a FastCGI or SCGI server (see sluice bridge --help)',
    )
    .helpOption(false)
    .allowUnknownOption()
    .argument('[args...]')
    .addHelpText('after', BRIDGE_HELP)
    .action((args: string[]) => run(import('../bridge/main').then((bridge) => bridge.main(args))));
}
