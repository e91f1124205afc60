// What `sluice request` and `sluice ping` share: which server, which protocol, and how failures exit.
import { UsageError } from '../errors';
import { ClientError } from '../client/errors';
import type { ClientProtocol } from '../client/types';
import { formatAddress, parseAddress } from '../common/address';

/** Exit codes of the client commands beyond 0/1/2, as documented in docs/cli.md. */
export const CLIENT_EXIT = {
  /** The server could not be reached, or went silent for the whole timeout. */
  CONNECT: 3,
  /** The server answered with something that is not a valid FastCGI/SCGI/CGI response. */
  PROTOCOL: 4,
  /** The application answered with a 5xx status (or, for ping --path, anything but 2xx/3xx). */
  SERVER_ERROR: 5,
} as const;

export interface Target {
  readonly address: string;
  readonly protocol: ClientProtocol;
  /** `fastcgi unix:/path`, for messages. */
  readonly label: string;
}

export interface TargetFlags {
  connect?: string;
  protocol?: string;
}

/** The server from `--connect`/`--protocol`, else SLUICE_CONNECT/SLUICE_PROTOCOL; FastCGI by default. */
export function resolveTarget(flags: TargetFlags, env: Readonly<Record<string, string | undefined>>): Target {
  const address = flags.connect ?? env.SLUICE_CONNECT;
  if (address === undefined || address === '') {
    throw new UsageError(
      'ERR_USAGE_ADDRESS',
      'no server to talk to: give --connect ADDR or set SLUICE_CONNECT',
    );
  }
  // An empty variable counts as unset, as shells make it easy to leave one so.
  const protocol = flags.protocol ?? (env.SLUICE_PROTOCOL || 'fastcgi');
  if (protocol !== 'fastcgi' && protocol !== 'scgi') {
    throw new UsageError(
      'ERR_USAGE_PROTOCOL',
      `the protocol is fastcgi or scgi, not ${JSON.stringify(protocol)}`,
    );
  }
  return { address, protocol, label: `${protocol} ${formatAddress(parseAddress(address))}` };
}

/** `NAME=VALUE` → [NAME, VALUE]; throws UsageError otherwise. */
export function parseAssignment(text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_.]*$/.test(text.slice(0, eq))) {
    throw new UsageError('ERR_USAGE_ENV', `expected NAME=VALUE, got ${JSON.stringify(text)}`);
  }
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** Reports a failed exchange on stderr and returns its exit code; other errors are rethrown. */
export function clientFailure(error: unknown, target: Target, stderr: NodeJS.WritableStream): number {
  if (!(error instanceof ClientError)) throw error;
  stderr.write(`sluice: ${target.label}: ${error.message} (${error.code})\n`);
  switch (error.kind) {
    case 'connect':
    case 'timeout':
      return CLIENT_EXIT.CONNECT;
    case 'protocol':
      return CLIENT_EXIT.PROTOCOL;
    default:
      return 1;
  }
}
