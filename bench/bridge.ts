// The cost of `sluice bridge`: its start-up, and one request through Apache's CGI host (mod_cgid and
// the bridge) next to the same request through Apache's mod_proxy_fcgi, both to one sluice daemon.
//
//   npm run build && npm run bench:bridge            # 50 runs of each, medians (about a minute)
//   npm run bench:bridge -- 200                      # more runs
//
// Uses the test harness (test/helpers) to start the daemon and Apache from the shipped deploy files,
// so it needs apache2 installed (scripts/install-frontends.sh). Requests are sequential, one at a time,
// on fresh connections; the figures are wall-clock medians with the 25th and 75th percentiles.
import { spawn } from 'node:child_process';
import { REPO_ROOT, SLUICE_BIN, startDaemon, tempSocketPath } from '../test/helpers/daemon';
import { startFrontEnd } from '../test/helpers/frontends';
import { request } from '../test/helpers/http';

const RUNS = Number(process.argv[2] ?? 50);

interface Stats {
  median: number;
  p25: number;
  p75: number;
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), p25: at(0.25), p75: at(0.75) };
}

const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

/** Wall time of one process run to its exit. */
function timeProcess(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(ms(start)) : reject(new Error(`${args.join(' ')}: exit ${code}`)),
    );
  });
}

/** Runs each measurement once per round, interleaved, so background load hits them alike. */
async function interleaved(
  runs: number,
  measures: Record<string, () => Promise<number>>,
): Promise<Record<string, Stats>> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(measures).map((k) => [k, []]));
  for (let round = 0; round < runs + 3; round++) {
    for (const [name, measure] of Object.entries(measures)) {
      const value = await measure();
      if (round >= 3) samples[name].push(value); // three warm-up rounds
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, stats(values)]));
}

function print(title: string, results: Record<string, Stats>): void {
  console.log(`\n${title}\n`);
  console.log('| what | median ms | p25–p75 ms |');
  console.log('| --- | ---: | ---: |');
  for (const [name, s] of Object.entries(results)) {
    console.log(`| ${name} | ${s.median.toFixed(1)} | ${s.p25.toFixed(1)}–${s.p75.toFixed(1)} |`);
  }
}

async function main(): Promise<void> {
  const daemon = await startDaemon('examples/hello.mjs', [
    '--fastcgi',
    'unix:' + tempSocketPath('fastcgi.sock'),
    '--socket-mode',
    '0666',
  ]);
  const upstream = { fastcgi: daemon.addresses.fastcgi![0] };
  const bridged = await startFrontEnd('apache', 'deploy/apache/sluice-bridge-cgi.conf', upstream);
  const proxied = await startFrontEnd('apache', 'deploy/apache/sluice-fastcgi.conf', upstream);
  try {
    const cgiEnv = {
      PATH: process.env.PATH,
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: 'GET',
      SERVER_PROTOCOL: 'HTTP/1.1',
      PATH_INFO: '/',
      QUERY_STRING: '',
      SLUICE_CONNECT: upstream.fastcgi,
    };
    print(
      `Start-up: one bridged request run directly, ${RUNS} runs (node ${process.version})`,
      await interleaved(RUNS, {
        '`node -e 0` (the floor)': () => timeProcess(['-e', '0'], cgiEnv),
        '`sluice bridge` via bin/sluice (its own entry point)': () =>
          timeProcess([SLUICE_BIN, 'bridge'], cgiEnv),
        'the same, loading the whole CLI first (commander, pino, daemon)': () =>
          timeProcess(
            [
              '-e',
              "require('./dist/cli.js'); require('./dist/bridge/main.js').main([]).then((c) => process.exit(c))",
            ],
            cgiEnv,
          ),
      }),
    );
    const get = (port: number) => async (): Promise<number> => {
      const start = process.hrtime.bigint();
      const response = await request({ port, path: '/' });
      if (response.status !== 200) throw new Error(`status ${response.status}`);
      return ms(start);
    };
    print(
      `One GET / through Apache to sluice (examples/hello.mjs), ${RUNS} sequential requests`,
      await interleaved(RUNS, {
        'mod_cgid + sluice bridge (deploy/apache/sluice-bridge-cgi.conf)': get(bridged.port),
        'mod_proxy_fcgi (deploy/apache/sluice-fastcgi.conf)': get(proxied.port),
      }),
    );
  } finally {
    await Promise.all([bridged.stop(), proxied.stop()]);
    await daemon.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
