// The spool of multiplexed FastCGI bodies: --spool-max-bytes caps what a process holds on disk, and
// a full disk fails one request alone, with a 500; the other requests of its connection go on. The
// full disk is a small tmpfs mounted as the daemon's TMPDIR, so that part needs root (CI runs as root).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pattern } from '../helpers/bytes';
import { requireRoot, startDaemon, type Daemon } from '../helpers/daemon';
import { FastCgiClient, fcgiParams } from '../helpers/fastcgi';
import { FCGI_MPXS_CONNS } from '../../src/fastcgi/constants';

const APP = 'test/fixtures/apps/probe.mjs';
const MiB = 1024 * 1024;

/** A connection the daemon treats as multiplexed: it asked FCGI_GET_VALUES. */
async function sharedConnection(daemon: Daemon): Promise<FastCgiClient> {
  const client = await FastCgiClient.connect(daemon.addresses.fastcgi![0]);
  await client.getValues([FCGI_MPXS_CONNS]);
  await client.waitFor(() => client.getValuesResults.length === 1, 5000, 'GET_VALUES_RESULT');
  return client;
}

test('--spool-max-bytes: a body that would go over gets a 503, the rest discarded; the connection goes on', async () => {
  const daemon = await startDaemon(APP, [
    ...['--fastcgi', '127.0.0.1:0', '--workers', '0'],
    ...['--body-memory-bytes', '1024', '--spool-max-bytes', '65536'],
  ]);
  const client = await sharedConnection(daemon);
  try {
    // /slow does not read its body: past the app's stream and 1 KiB of memory it goes to the file.
    await client.begin(1, {
      params: fcgiParams('POST', '/slow?ms=2000', [['CONTENT_LENGTH', String(MiB)]]),
      stdin: pattern(MiB),
    });
    expect((await client.waitEnd(1, 10_000)).response().status).toBe(503);
    expect(daemon.logs()).toContain('ERR_SPOOL_FULL');
    const next = await client.request(2, { params: fcgiParams('GET', '/env') }, 10_000);
    expect(next.response().status).toBe(200);
  } finally {
    client.destroy();
    expect(await daemon.stop()).toBe(0);
  }
});

const asRoot = requireRoot('the full-disk spool tests') ? describe : describe.skip;

asRoot('a full disk under the spool', () => {
  let disk: string;
  let daemon: Daemon;

  beforeAll(async () => {
    disk = mkdtempSync(path.join(tmpdir(), 'sluice-spool-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', disk]);
    daemon = await startDaemon(
      APP,
      ['--fastcgi', '127.0.0.1:0', '--workers', '0', '--body-memory-bytes', '1024'],
      {
        env: { TMPDIR: disk },
      },
    );
  }, 30_000);

  afterAll(async () => {
    expect(await daemon.stop()).toBe(0);
    execFileSync('umount', [disk]);
    rmSync(disk, { recursive: true });
  });

  test('fails the request whose body does not fit with a 500, logged; the others on its connection are served', async () => {
    // Shared: from then on unread bodies are spooled, never paused.
    const client = await sharedConnection(daemon);
    try {
      // /slow does not read its body: 2 MiB must go to the spool's file, which the disk cannot hold.
      await client.begin(1, {
        params: fcgiParams('POST', '/slow?ms=3000', [['CONTENT_LENGTH', String(2 * MiB)]]),
        stdin: pattern(2 * MiB),
      });
      const second = await client.request(2, { params: fcgiParams('GET', '/env') }, 10_000);
      expect(second.response().status).toBe(200);
      expect((await client.waitEnd(1, 10_000)).response().status).toBe(500);
      expect(daemon.logs()).toContain('ERR_BODY_SPOOL');
      // The file is gone with its request: the disk is empty again.
      const used = execFileSync('df', ['--output=used', '-B1', disk], { encoding: 'utf8' });
      expect(Number(used.trim().split('\n').pop())).toBe(0);
    } finally {
      client.destroy();
    }
  }, 30_000);
});
