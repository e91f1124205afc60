// `sluice ping`: is a FastCGI (or SCGI) server answering? For scripts and systemd health checks.
import { requestEnviron } from '../client/environ';
import { fastcgiGetValues } from '../client/fastcgi-client';
import { cgiRequest } from '../client/request';
import { UsageError } from '../errors';
import type { CommandIo } from './request';
import { CLIENT_EXIT, clientFailure, parseAssignment, resolveTarget, type TargetFlags } from './target';

export interface PingFlags extends TargetFlags {
  path?: string;
  env: string[];
  timeout: number;
}

/**
 * Without --path, FastCGI GET_VALUES (spec §4.1): any answer means the process is up and speaks
 * FastCGI, without running the application. With --path, a GET whose status must be 2xx or 3xx.
 */
export async function runPing(flags: PingFlags, io: CommandIo): Promise<number> {
  const server = resolveTarget(flags, io.env);
  const options = { address: server.address, timeoutMs: flags.timeout * 1000 };
  const started = process.hrtime.bigint();
  const elapsed = (): string => `${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(1)} ms`;
  try {
    if (flags.path === undefined) {
      if (server.protocol !== 'fastcgi') {
        throw new UsageError(
          'ERR_USAGE_PING',
          'SCGI has no management records: give --path to ping over SCGI',
        );
      }
      const values = await fastcgiGetValues(options);
      const shown = Object.entries(values).map(([name, value]) => `${name}=${value}`);
      io.stdout.write(`ok ${server.label} ${shown.join(' ') || '(no values)'} ${elapsed()}\n`);
      return 0;
    }
    const params = requestEnviron({ target: flags.path, env: flags.env.map(parseAssignment) });
    const response = await cgiRequest(
      server.protocol,
      { params },
      {
        ...options,
        onStderr: (chunk) => void io.stderr.write(chunk),
      },
    );
    response.body.resume();
    const line = `${server.label} ${flags.path}: ${response.status} ${response.reason} ${elapsed()}`;
    if (response.status >= 200 && response.status < 400) {
      io.stdout.write(`ok ${line}\n`);
      return 0;
    }
    io.stderr.write(`sluice: ${line}\n`);
    return CLIENT_EXIT.SERVER_ERROR;
  } catch (error) {
    return clientFailure(error, server, io.stderr);
  }
}
