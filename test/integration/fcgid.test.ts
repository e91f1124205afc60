// Apache httpd with mod_fcgid spawning sluice, the shared-hosting setup: the shipped vhost
// deploy/apache/sluice-fcgid.conf and a document root holding the shipped deploy/apache/fcgid/.htaccess
// and app.fcgi (a wrapper that execs `sluice serve`). mod_fcgid starts copies with a listening
// socket on fd 0, sends each one request at a time, stops idle ones with SIGTERM, replaces dead ones
// and stops all of them with Apache.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/daemon';
import { until } from '../helpers/fastcgi';
import { requireApacheModule, startFrontEnd, type FrontEnd } from '../helpers/frontends';
import { pattern, sha256 } from '../helpers/bytes';
import { request, requestStream } from '../helpers/http';
import { childrenOf, killLeftovers, sluiceProcesses, uidOf } from '../helpers/spawned-processes';
import { serveFiles, stage, type Staged } from '../helpers/stage';

const MiB = 1024 * 1024;
const DEPLOY = 'deploy/apache/sluice-fcgid.conf';
const SITE = 'deploy/apache/fcgid';
const PROBE = 'test/fixtures/apps/probe.mjs';
// Short enough to watch mod_fcgid stop idle copies within a test.
const IDLE_SECONDS = 3;

// Under CI=true a missing Apache or mod_fcgid throws here, so the file fails instead of skipping.
const withFcgid = requireApacheModule('mod_fcgid') ? test : test.skip;

/** A number set in the shipped vhost. */
function shipped(directive: string): number {
  const text = fs.readFileSync(path.join(REPO_ROOT, DEPLOY), 'utf8');
  return Number(new RegExp(`^\\s*${directive} (\\d+)$`, 'm').exec(text)![1]);
}

/**
 * The site as its owner uploads it: the shipped .htaccess and app.fcgi, with only app.fcgi's
 * command pointed at this node and the staged sluice and app.
 */
function renderSite(staged: Staged): string {
  const root = staged.at('www');
  fs.mkdirSync(root, { mode: 0o755 });
  fs.copyFileSync(path.join(REPO_ROOT, SITE, '.htaccess'), path.join(root, '.htaccess'));
  fs.chmodSync(path.join(root, '.htaccess'), 0o644);
  const wrapper = fs
    .readFileSync(path.join(REPO_ROOT, SITE, 'app.fcgi'), 'utf8')
    .split('\n')
    .map((line) =>
      line.startsWith('#')
        ? line
        : line
            .replace('/usr/bin/sluice', `'${process.execPath}' '${staged.at('bin/sluice')}'`)
            .replace('/srv/app/app.mjs', staged.at(PROBE)),
    )
    .join('\n');
  if (!wrapper.includes(staged.at(PROBE)))
    throw new Error(`${SITE}/app.fcgi no longer runs /srv/app/app.mjs`);
  fs.writeFileSync(path.join(root, 'app.fcgi'), wrapper, { mode: 0o755 });
  fs.chmodSync(path.join(root, 'app.fcgi'), 0o755);
  return root;
}

let staged: Staged;
let apache: FrontEnd;
const copies = () => sluiceProcesses(staged.dir);
/** The main server's error log, where mod_fcgid sends what the copies write on stderr. */
const mainLog = (): string => fs.readFileSync(path.join(apache.prefix, 'logs', 'error.log'), 'utf8');

beforeAll(async () => {
  if (!requireApacheModule('mod_fcgid')) return;
  // Apache's user (www-data under root) runs the copies: sluice, its packages and the app are staged
  // where it may read them.
  staged = stage([...serveFiles(), PROBE]);
  apache = await startFrontEnd(
    'apache',
    DEPLOY,
    {},
    {
      documentRoot: renderSite(staged),
      extra: `FcgidIdleTimeout ${IDLE_SECONDS}\nFcgidIdleScanInterval 1\nLogLevel warn fcgid:info`,
    },
  );
}, 30_000);

afterAll(async () => {
  await apache?.stop();
  if (staged) {
    killLeftovers(staged.dir);
    staged.remove();
  }
});

describe('Apache mod_fcgid (deploy/apache/sluice-fcgid.conf, fcgid/.htaccess, fcgid/app.fcgi)', () => {
  withFcgid(
    'starts sluice through app.fcgi on fd 0: one process, as Apache’s user, logging to Apache’s error log',
    async () => {
      const response = await request({
        port: apache.port,
        path: '/env?x=1',
        headers: { authorization: 'Bearer t0ken' },
      });
      expect(response.status).toBe(200);
      expect(JSON.parse(response.body.toString())).toMatchObject({
        'sluice.protocol': 'fastcgi',
        REQUEST_URI: '/env?x=1',
        PATH_INFO: '/env',
        QUERY_STRING: 'x=1',
        HTTP_AUTHORIZATION: 'Bearer t0ken',
        SERVER_SOFTWARE: expect.stringMatching(/^Apache\//) as unknown,
      });
      for (const copy of copies()) {
        expect(childrenOf(copy.pid)).toEqual([]);
        // Debian's APACHE_RUN_USER, as the test's httpd.conf sets under root.
        if (process.getuid?.() === 0) expect(copy.uid).toBe(uidOf('www-data'));
      }
      expect(mainLog()).toContain('"fdName":"FCGI_LISTENSOCK_FILENO"');
      // Not the site's ErrorLog: mod_fcgid's process manager, which starts the copies, writes to
      // the main server's.
      const siteLog = fs.readFileSync(path.join(apache.prefix, 'logs', 'sluice-fcgid.error.log'), 'utf8');
      expect(siteLog).not.toContain('"msg"');
    },
  );

  withFcgid(
    '10 MiB up and down, checked by sha256',
    async () => {
      const body = pattern(10 * MiB);
      const posted = await request({
        port: apache.port,
        method: 'POST',
        path: '/hash',
        body,
        timeoutMs: 30_000,
      });
      expect(posted.status).toBe(200);
      expect(JSON.parse(posted.body.toString())).toMatchObject({
        bytes: body.length,
        sha256: sha256(body),
        contentLength: String(body.length),
      });
      const streamed = await requestStream({
        port: apache.port,
        path: `/stream?bytes=${10 * MiB}`,
        timeoutMs: 30_000,
      });
      expect(streamed).toMatchObject({ status: 200, bytes: 10 * MiB, sha256: sha256(pattern(10 * MiB)) });
    },
    60_000,
  );

  withFcgid(
    'a body over FcgidMaxRequestLen gets a 500 from mod_fcgid itself',
    async () => {
      const limit = shipped('FcgidMaxRequestLen');
      const response = await request({
        port: apache.port,
        method: 'POST',
        path: '/hash',
        body: Buffer.alloc(limit + 1),
        timeoutMs: 30_000,
      });
      // mod_fcgid 2.3.9 answers 500, not 413, and says why in the site's error log.
      expect(response.status).toBe(500);
      expect(apache.errorLog()).toMatch(/exceeds MaxRequestLen \(\d+\)/);
    },
    60_000,
  );

  withFcgid(
    'one request per copy at a time: concurrent requests start copies up to FcgidMaxProcessesPerClass',
    async () => {
      const max = shipped('FcgidMaxProcessesPerClass');
      let most = 0;
      let done = false;
      const watch = (async () => {
        while (!done) {
          most = Math.max(most, copies().length);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const responses = await Promise.all(
        Array.from({ length: 2 * max }, () =>
          request({ port: apache.port, path: '/slow?ms=400', timeoutMs: 30_000 }),
        ),
      );
      done = true;
      await watch;
      expect(responses.map((r) => r.status)).toEqual(Array(2 * max).fill(200));
      expect(most).toBeGreaterThan(1);
      expect(most).toBeLessThanOrEqual(max);
    },
    60_000,
  );

  withFcgid(
    'copies killed with SIGKILL: a request that meets one gets a 500, then a new copy serves',
    async () => {
      expect((await request({ port: apache.port, path: '/env' })).status).toBe(200);
      const victims = copies();
      for (const { pid } of victims) process.kill(pid, 'SIGKILL');
      await until(
        () => copies().every((c) => !victims.some((v) => v.pid === c.pid)),
        10_000,
        () => mainLog(),
      );
      // mod_fcgid still lists the dead copies until it next scans its table; a request sent to one
      // fails ("End of script output before headers") and Apache answers 500.
      const statuses: number[] = [];
      while (statuses.at(-1) !== 200 && statuses.length <= victims.length) {
        statuses.push((await request({ port: apache.port, path: '/env', timeoutMs: 30_000 })).status);
      }
      expect(statuses.at(-1)).toBe(200);
      expect(statuses.slice(0, -1).every((status) => status === 500)).toBe(true);
      const replacements = copies();
      expect(replacements.length).toBeGreaterThan(0);
      expect(replacements.some((c) => victims.some((v) => v.pid === c.pid))).toBe(false);
    },
    60_000,
  );

  withFcgid(
    'idle copies get SIGTERM after FcgidIdleTimeout and exit cleanly',
    async () => {
      expect((await request({ port: apache.port, path: '/env' })).status).toBe(200);
      const idle = copies();
      expect(idle.length).toBeGreaterThan(0);
      await until(
        () => copies().length === 0,
        (IDLE_SECONDS + 10) * 1000,
        () => mainLog(),
      );
      // Each was told with SIGTERM and went through its own graceful stop, not killed.
      const logged = (msg: string): Array<{ pid: number; signal?: string }> =>
        mainLog()
          .split('\n')
          .filter((line) => line.startsWith('{') && line.includes(`"msg":"${msg}"`))
          .map((line) => JSON.parse(line) as { pid: number; signal?: string });
      await until(
        () => idle.every((copy) => logged('stopped').some((line) => line.pid === copy.pid)),
        5000,
        () => mainLog(),
      );
      for (const copy of idle) {
        expect(logged('stopping').find((line) => line.pid === copy.pid)).toMatchObject({ signal: 'SIGTERM' });
      }
      // And the next request starts a copy again.
      expect((await request({ port: apache.port, path: '/env', timeoutMs: 30_000 })).status).toBe(200);
    },
    60_000,
  );

  withFcgid(
    'graceful restart (SIGUSR1): a request sent before it is answered, every copy gets SIGTERM, new ones follow',
    async () => {
      expect((await request({ port: apache.port, path: '/env', timeoutMs: 30_000 })).status).toBe(200);
      const before = copies();
      expect(before.length).toBeGreaterThan(0);
      const slow = request({ port: apache.port, path: '/slow?ms=1000', timeoutMs: 30_000 });
      process.kill(apache.pid, 'SIGUSR1');
      expect((await slow).status).toBe(200);
      // mod_fcgid's process manager restarts with Apache and stops the copies it had.
      await until(
        () => copies().every((copy) => !before.some((old) => old.pid === copy.pid)),
        15_000,
        () => mainLog(),
      );
      for (const copy of before) expect(mainLog()).toContain(`"pid":${copy.pid},"msg":"stopped"`);
      expect(apache.running()).toBe(true);
      expect((await request({ port: apache.port, path: '/env', timeoutMs: 30_000 })).status).toBe(200);
      expect(copies().length).toBeGreaterThan(0);
    },
    60_000,
  );

  withFcgid(
    'Apache stopped by PID stops every copy: no orphans',
    async () => {
      await Promise.all(
        Array.from({ length: 3 }, () => request({ port: apache.port, path: '/slow?ms=200' })),
      );
      expect(copies().length).toBeGreaterThan(0);
      process.kill(apache.pid, 'SIGTERM');
      await until(
        () => copies().length === 0 && !apache.running(),
        20_000,
        () => apache.errorLog(),
      );
    },
    60_000,
  );
});
