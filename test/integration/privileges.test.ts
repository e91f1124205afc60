// --user/--group drop root once the sockets are bound; --socket-owner/--socket-group/--socket-mode
// set who may connect. Needs root (CI runs as root); elsewhere these tests are skipped, under CI=true
// running without root is a failure.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireRoot, SLUICE_BIN, startDaemon, type Daemon } from '../helpers/daemon';
import { until } from '../helpers/fastcgi';
import { requestVariables, scgiRequest } from '../helpers/scgi';
import { stage, type Staged } from '../helpers/stage';

// nobody loads the app: a copy, as it may not read the checkout (a clone in /root, mode 0700).
let staged: Staged;
let APP: string;
beforeAll(() => {
  staged = stage(['test/fixtures/apps/probe.mjs']);
  APP = staged.at('test/fixtures/apps/probe.mjs');
});
afterAll(() => staged.remove());
// Debian's unprivileged account and group.
const NOBODY = 65534;

const itAsRoot = requireRoot('the --user/--group tests') ? it : it.skip;

interface Identity {
  pid: number;
  uid: number;
  gid: number;
  groups: number[];
}

/** A socket in a directory only root may enter: binding there after dropping root would fail. */
function rootOnlySocket(): string {
  const dir = fs.mkdtempSync(path.join('/tmp', 'sl-root-'));
  fs.chmodSync(dir, 0o700);
  return path.join(dir, 'scgi.sock');
}

async function identity(socket: string): Promise<Identity> {
  const response = await scgiRequest(`unix:${socket}`, requestVariables('GET', '/process'));
  expect(response.status).toBe(200);
  return JSON.parse(response.body.toString()) as Identity;
}

/** Real, effective, saved and filesystem uids (or gids) of a process, from /proc. */
function ids(pid: number, field: 'Uid' | 'Gid'): number[] {
  const line = fs
    .readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`))!;
  return line.split(/\s+/).slice(1).map(Number);
}

function expectSocket(socket: string, uid: number, gid: number, mode: number): void {
  const stat = fs.statSync(socket);
  expect(stat.isSocket()).toBe(true);
  expect({ uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o777 }).toEqual({ uid, gid, mode });
}

const dropArgs = [
  '--user',
  'nobody',
  '--group',
  'nogroup',
  '--socket-owner',
  'nobody',
  '--socket-group',
  'nogroup',
];

describe('--user, --group and the socket owner', () => {
  itAsRoot('one process: binds as root, then serves as nobody:nogroup with no other groups', async () => {
    const socket = rootOnlySocket();
    const daemon = await startDaemon(APP, ['--workers', '0', '--scgi', `unix:${socket}`, ...dropArgs]);
    try {
      expectSocket(socket, NOBODY, NOBODY, 0o660);
      const app = await identity(socket);
      expect(app).toMatchObject({ pid: daemon.pid, uid: NOBODY, gid: NOBODY, groups: [NOBODY] });
      // All four ids changed: nothing left to regain root with.
      expect(ids(daemon.pid, 'Uid')).toEqual([NOBODY, NOBODY, NOBODY, NOBODY]);
      expect(ids(daemon.pid, 'Gid')).toEqual([NOBODY, NOBODY, NOBODY, NOBODY]);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
    // No longer root, it may not unlink in that directory: said in the log, replaced at the next start.
    expect(fs.existsSync(socket)).toBe(true);
    expect(daemon.logLines()).toContainEqual(
      expect.objectContaining({ code: 'ERR_SOCKET_LEFT', path: socket, reason: 'EACCES' }),
    );
    const again = await startDaemon(APP, ['--workers', '0', '--scgi', `unix:${socket}`, ...dropArgs]);
    try {
      expect((await identity(socket)).pid).toBe(again.pid);
    } finally {
      expect(await again.stop()).toBe(0);
    }
  });

  itAsRoot('workers drop root, the primary keeps it to fork their successors on reload', async () => {
    const socket = rootOnlySocket();
    const daemon: Daemon = await startDaemon(APP, [
      '--workers',
      '1',
      '--scgi',
      `unix:${socket}`,
      '--socket-mode',
      '0600',
      ...dropArgs,
    ]);
    try {
      expectSocket(socket, NOBODY, NOBODY, 0o600);
      const first = await identity(socket);
      expect(first).toMatchObject({ uid: NOBODY, gid: NOBODY, groups: [NOBODY] });
      expect(first.pid).not.toBe(daemon.pid);
      expect(ids(daemon.pid, 'Uid')[1]).toBe(0);

      process.kill(daemon.pid, 'SIGHUP');
      await until(
        () => daemon.logLines().some((l) => l.msg === 'reloaded'),
        10_000,
        () => daemon.logs(),
      );
      const second = await identity(socket);
      expect(second).toMatchObject({ uid: NOBODY, gid: NOBODY, groups: [NOBODY] });
      expect(second.pid).not.toBe(first.pid);
      expectSocket(socket, NOBODY, NOBODY, 0o600);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
    // The primary, still root, removes the socket file it bound.
    expect(fs.existsSync(socket)).toBe(false);
  });

  itAsRoot(
    '--socket-owner/--socket-group alone: the daemon stays root, the socket changes hands',
    async () => {
      const socket = rootOnlySocket();
      const daemon = await startDaemon(APP, [
        '--workers',
        '0',
        '--scgi',
        `unix:${socket}`,
        '--socket-owner',
        'nobody',
        '--socket-group',
        String(NOBODY),
      ]);
      try {
        expectSocket(socket, NOBODY, NOBODY, 0o660);
        expect(await identity(socket)).toMatchObject({ uid: 0, gid: 0 });
      } finally {
        expect(await daemon.stop()).toBe(0);
      }
    },
  );

  it('an unknown user or group is a usage error naming it, before anything is bound', () => {
    for (const [flag, name, what] of [
      ['--user', 'no-such-user-sluice', 'user'],
      ['--group', 'no-such-group-sluice', 'group'],
      ['--socket-owner', 'no-such-user-sluice', 'user'],
    ]) {
      const socket = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sl-')), 'scgi.sock');
      const result = spawnSync(
        process.execPath,
        [SLUICE_BIN, 'serve', APP, '--scgi', `unix:${socket}`, flag, name],
        {
          encoding: 'utf8',
          timeout: 20_000,
        },
      );
      expect({ flag, status: result.status }).toEqual({ flag, status: 2 });
      expect(result.stderr).toContain(`no such ${what}: ${name}`);
      expect(fs.existsSync(socket)).toBe(false);
    }
  });
});

describe('an app module that --user cannot read', () => {
  /** Serves `app` as nobody (its socket in a fresh root-only directory) and returns how it ended. */
  function serveAsNobody(app: string): { status: number | null; stderr: string } {
    const result = spawnSync(
      process.execPath,
      [SLUICE_BIN, 'serve', app, '--workers', '0', '--scgi', `unix:${rootOnlySocket()}`, ...dropArgs],
      { encoding: 'utf8', timeout: 20_000 },
    );
    return { status: result.status, stderr: result.stderr };
  }

  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sl-app-'));
    fs.chmodSync(dir, 0o755);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  itAsRoot('in a directory only root may search: permission denied, not "does not exist"', () => {
    const hidden = path.join(dir, 'hidden');
    fs.mkdirSync(hidden, { mode: 0o700 });
    fs.copyFileSync(APP, path.join(hidden, 'app.mjs'));
    const result = serveAsNobody(path.join(hidden, 'app.mjs'));
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(
      `${hidden}/app.mjs cannot be read by uid ${NOBODY}: permission denied (EACCES)`,
    );
    expect(result.stderr).not.toContain('does not exist');
  });

  itAsRoot('a file only root may read: permission denied', () => {
    const open = path.join(dir, 'open');
    fs.mkdirSync(open, { mode: 0o755 });
    fs.chmodSync(open, 0o755);
    const app = path.join(open, 'app.mjs');
    fs.copyFileSync(APP, app);
    fs.chmodSync(app, 0o600);
    const result = serveAsNobody(app);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`${app} cannot be read by uid ${NOBODY}: permission denied (EACCES)`);
  });

  itAsRoot('a module that is not there still does not exist', () => {
    const result = serveAsNobody(path.join(dir, 'missing.mjs'));
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('does not exist');
  });
});
