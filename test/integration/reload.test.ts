// SIGHUP under load: new workers serve before the old ones retire, kept-alive connections are handed
// over between requests, and not one request fails — over raw sockets and through nginx.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { requireBinary, startFrontEnd, type FrontEnd } from '../helpers/frontends';
import { fastcgiLoop, httpPostLoop, scgiLoop, type Loop, type LoopResult } from '../helpers/loops';

const APP = 'test/fixtures/apps/versioned.mjs';
const hasNginx = requireBinary('nginx');

let versionFile: string;

beforeEach(() => {
  versionFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-version-')), 'version');
  fs.writeFileSync(versionFile, 'v1');
});

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs the loops, reloads with new code once they are going, and returns their counts. */
async function reloadUnderLoad(daemon: Daemon, loops: Loop[]): Promise<LoopResult[]> {
  const state = (): string =>
    loops.map((l, i) => report(`loop ${i}`, l.result)).join('\n') + `\nlog:\n${daemon.logs()}`;
  try {
    await until(() => loops.every((l) => l.result.sent > 100), 10_000, 'loops under way');
    fs.writeFileSync(versionFile, 'v2');
    process.kill(daemon.pid, 'SIGHUP');
    await until(() => daemon.logLines().some((l) => l.msg === 'reloaded'), 10_000, 'reload done');
    await until(() => loops.every((l) => l.result.versions.includes('v2')), 5000, 'new code answering');
    const settled = loops.map((l) => l.result.sent);
    await until(() => loops.every((l, i) => l.result.sent > settled[i] + 100), 10_000, 'loops going on');
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${state()}`, { cause: error });
  } finally {
    await Promise.all(loops.map((l) => l.stop()));
  }
  return loops.map((l) => l.result);
}

function report(name: string, result: LoopResult): string {
  return `${name}: sent ${result.sent}, failed ${result.failed}, versions ${result.versions.join('→')} ${result.errors.join('; ')}`;
}

test('raw SCGI and kept-alive FastCGI: zero failed requests across SIGHUP, the new code answering after', async () => {
  const daemon = await startDaemon(
    APP,
    ['--workers', '2', '--scgi', '127.0.0.1:0', '--fastcgi', 'unix:' + tempSocketPath('f.sock')],
    { env: { SLUICE_TEST_VERSION_FILE: versionFile } },
  );
  try {
    const loops = [
      scgiLoop(daemon.addresses.scgi![0]),
      fastcgiLoop(daemon.addresses.fastcgi![0]),
      fastcgiLoop(daemon.addresses.fastcgi![0]),
    ];
    const results = await reloadUnderLoad(daemon, loops);
    const lines = results.map((r, i) => report(['scgi', 'fastcgi-1', 'fastcgi-2'][i], r));
    console.log(`reload over raw sockets:\n${lines.join('\n')}`);
    for (const [i, result] of results.entries()) {
      expect({ loop: lines[i], failed: result.failed }).toEqual({ loop: lines[i], failed: 0 });
      expect(result.versions).toEqual(['v1', 'v2']);
    }
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
}, 40_000);

(hasNginx ? test : test.skip)(
  'through nginx with fastcgi_keep_conn and upstream keepalive: POSTs never fail across SIGHUP',
  async () => {
    const socket = tempSocketPath('fastcgi.sock');
    const daemon = await startDaemon(
      APP,
      ['--workers', '2', '--fastcgi', 'unix:' + socket, '--socket-mode', '0666'],
      {
        env: { SLUICE_TEST_VERSION_FILE: versionFile },
      },
    );
    let nginx: FrontEnd | undefined;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    try {
      nginx = await startFrontEnd('nginx', 'deploy/nginx/sluice-fastcgi.conf', { fastcgi: 'unix:' + socket });
      const loops = Array.from({ length: 6 }, () => httpPostLoop(nginx!.port, agent));
      const results = await reloadUnderLoad(daemon, loops);
      const total: LoopResult = { sent: 0, failed: 0, errors: [], versions: [], failures: [] };
      for (const r of results) {
        total.sent += r.sent;
        total.failed += r.failed;
        total.errors.push(...r.errors);
        for (const v of r.versions) if (!total.versions.includes(v)) total.versions.push(v);
      }
      const line = report('nginx POST loops', total);
      console.log(`reload through nginx:\n${line}`);
      expect({ line, failed: total.failed }).toEqual({ line, failed: 0 });
      expect(total.versions).toEqual(['v1', 'v2']);
    } finally {
      agent.destroy();
      await nginx?.stop();
      expect(await daemon.stop()).toBe(0);
    }
  },
  60_000,
);
