// Type=notify: READY=1 once serving, RELOADING=1 then READY=1 around SIGHUP, STOPPING=1 on SIGTERM,
// received on a datagram socket that stands in for systemd's, with the sender's PID checked.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { REPO_ROOT, startDaemon, type Daemon } from '../helpers/daemon';
import { until } from '../helpers/fastcgi';
import { requireBinary } from '../helpers/frontends';
import { requestVariables, scgiRequest } from '../helpers/scgi';

const RECEIVER = path.join(REPO_ROOT, 'test/fixtures/systemd/notify-receiver.py');
const ready = requireBinary('python3') && requireBinary('systemd-notify');
const itNotified = ready ? it : it.skip;

interface Notification {
  /** Sender PID from SCM_CREDENTIALS. */
  pid: number | null;
  /** The assignments sent, one per line. */
  fields: Record<string, string>;
}

interface Receiver {
  socket: string;
  messages: Notification[];
  close(): void;
}

const receivers: ChildProcess[] = [];
afterEach(() => {
  for (const child of receivers.splice(0)) child.kill();
});

async function startReceiver(): Promise<Receiver> {
  const socket = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-notify-')), 'notify.sock');
  const child = spawn('python3', [RECEIVER, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  receivers.push(child);
  const messages: Notification[] = [];
  let listening = false;
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const parsed = JSON.parse(line) as { ready?: true; pid?: number | null; text?: string };
    if (parsed.ready) listening = true;
    // systemd-notify follows each message with BARRIER=1, to wait until it was processed.
    else if (parsed.text !== 'BARRIER=1')
      messages.push({
        pid: parsed.pid ?? null,
        fields: Object.fromEntries(parsed.text!.split('\n').map((l) => l.split(/=(.*)/s, 2))),
      });
  });
  await until(
    () => listening,
    5000,
    () => 'the notification receiver did not start',
  );
  return { socket, messages, close: () => child.kill() };
}

/** The messages with field `name` set, in arrival order. */
function having(receiver: Receiver, name: string): Notification[] {
  return receiver.messages.filter((m) => name in m.fields);
}

async function processOf(daemon: Daemon): Promise<{ pid: number; notifySocket: string | null }> {
  const response = await scgiRequest(daemon.addresses.scgi![0], requestVariables('GET', '/process'));
  return JSON.parse(response.body.toString()) as { pid: number; notifySocket: string | null };
}

describe('systemd readiness notification (Type=notify)', () => {
  itNotified('one process: READY=1 from the main PID once serving, STOPPING=1 on SIGTERM', async () => {
    const receiver = await startReceiver();
    const daemon = await startDaemon(
      'test/fixtures/apps/probe.mjs',
      ['--workers', '0', '--scgi', '127.0.0.1:0'],
      { env: { NOTIFY_SOCKET: receiver.socket } },
    );
    try {
      await until(
        () => having(receiver, 'READY').length === 1,
        5000,
        () => daemon.logs(),
      );
      const [readyMessage] = having(receiver, 'READY');
      expect(readyMessage.fields).toMatchObject({
        READY: '1',
        STATUS: 'serving',
        MAINPID: String(daemon.pid),
      });
      // As root, systemd-notify sends with the main PID's credentials: no race with its own exit.
      if (process.getuid!() === 0) expect(readyMessage.pid).toBe(daemon.pid);
      expect(await processOf(daemon)).toMatchObject({ pid: daemon.pid, notifySocket: null });
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
    await until(
      () => having(receiver, 'STOPPING').length === 1,
      5000,
      () => JSON.stringify(receiver.messages),
    );
    expect(receiver.messages.map((m) => ('READY' in m.fields ? 'READY' : 'STOPPING'))).toEqual([
      'READY',
      'STOPPING',
    ]);
  });

  itNotified('workers: READY=1 once they serve, RELOADING=1 then READY=1 around SIGHUP', async () => {
    const receiver = await startReceiver();
    const daemon = await startDaemon(
      'test/fixtures/apps/probe.mjs',
      ['--workers', '1', '--scgi', '127.0.0.1:0'],
      { env: { NOTIFY_SOCKET: receiver.socket } },
    );
    try {
      await until(
        () => having(receiver, 'READY').length === 1,
        5000,
        () => daemon.logs(),
      );
      const worker = await processOf(daemon);
      expect(worker.pid).not.toBe(daemon.pid);
      // The environment workers (and the app) inherit has no NOTIFY_SOCKET: only the primary speaks.
      expect(worker.notifySocket).toBeNull();

      const before = process.hrtime.bigint() / 1000n;
      process.kill(daemon.pid, 'SIGHUP');
      await until(
        () => having(receiver, 'READY').length === 2,
        10_000,
        () => daemon.logs(),
      );
      const reloading = having(receiver, 'RELOADING');
      expect(reloading).toHaveLength(1);
      expect(BigInt(reloading[0].fields.MONOTONIC_USEC)).toBeGreaterThanOrEqual(before);
      const order = receiver.messages.map((m) => ('READY' in m.fields ? 'READY' : 'RELOADING'));
      expect(order).toEqual(['READY', 'RELOADING', 'READY']);
      // READY=1 after the reload means the new generation serves.
      // The log line and the notification travel apart: either may arrive first.
      await until(
        () => daemon.logLines().some((l) => l.msg === 'reloaded'),
        5000,
        () => daemon.logs(),
      );
      expect((await processOf(daemon)).pid).not.toBe(worker.pid);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
    await until(
      () => having(receiver, 'STOPPING').length === 1,
      5000,
      () => JSON.stringify(receiver.messages),
    );
    for (const message of receiver.messages) expect(message.fields.MAINPID).toBe(String(daemon.pid));
  });

  itNotified('a notification socket nobody listens on is logged and the daemon serves on', async () => {
    const missing = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-notify-')), 'absent.sock');
    const daemon = await startDaemon(
      'test/fixtures/apps/probe.mjs',
      ['--workers', '0', '--scgi', '127.0.0.1:0'],
      { env: { NOTIFY_SOCKET: missing } },
    );
    try {
      await until(
        () => daemon.logs().includes('ERR_SYSTEMD_NOTIFY'),
        5000,
        () => daemon.logs(),
      );
      expect((await processOf(daemon)).pid).toBe(daemon.pid);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });
});
