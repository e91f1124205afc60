// The benchmarks in their shortest form, so the harness cannot rot between full runs: the e2e suite
// (three targets, two routes, one 1 s run each), the memory benchmark (16 MiB each way) and the soak
// (a few seconds of the route mix) must finish, write their JSON, and report numbers without a
// single error or lost request. No timing is asserted.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireBinary } from '../helpers/frontends';

const ROOT = path.resolve(__dirname, '..', '..');
const haveTools = requireBinary('nginx') && requireBinary('wrk');
const itWithTools = haveTools ? it : it.skip;

interface Finished {
  code: number | null;
  output: string;
}

/** Runs a benchmark script as a child process, its JSON going to a fresh directory. */
function runBench(script: string, args: string[], outDir: string): Promise<Finished> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'bench', script), ...args, '--out-dir', outDir],
      { cwd: ROOT, timeout: 50_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, output: `${stdout}\n${stderr}` });
      },
    );
  });
}

/** The one JSON file a run wrote into `dir`, parsed. */
function resultOf(dir: string, prefix: string): Record<string, unknown> {
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.json'));
  expect(files).toHaveLength(1);
  return JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
}

/** The fields of bench/lib/report.mjs's summary that are checked here. */
interface Summary {
  non2xx: number;
  socketErrors: number;
  requests: number;
  rps: { median: number };
  latencyUs: { p50: number; p99: number };
  peakRssKb: number;
}

interface MemoryRun {
  direction: string;
  bytes: number;
  peakRssKb: number;
  flat: boolean;
}

/** The fields of bench/soak.mjs's result that are checked here. */
interface SoakResult {
  options: { protocol: string; workers: number };
  requests: number;
  rps: number;
  lost: number;
  wrk: { requests: number; non2xx: number; socketErrorTotal: number };
  nginx: { requests: number; answeredWhole: number; answeredCut: number; errorResponses: number };
  daemon: { admitted: number; errors: number; stillActive: number };
  rss: {
    startKb: number;
    endKb: number;
    peakKb: number;
    fit: { samples: number; slopeMiBPerMillionRequests: number };
  };
  fds: { start: number; end: number; peak: number };
  samples: { t: number; requests: number | null; rssKb: number; fds: number }[];
}

const positive = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0;

describe('benchmark smoke runs', () => {
  let outDir: string;
  beforeEach(() => {
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-smoke-'));
  });
  afterEach(() => fs.rmSync(outDir, { recursive: true, force: true }));

  itWithTools(
    'e2e: sluice, node:http and the null FastCGI responder on hello and echo, without errors',
    async () => {
      const run = await runBench(
        'e2e.mjs',
        [
          '--quick',
          '--duration',
          '1',
          '--connections',
          '8',
          '--only',
          'sluice-fastcgi-keepalive,node-http,null-fastcgi',
          '--routes',
          'hello,echo',
        ],
        outDir,
      );
      expect({ code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({ code: 0, output: '' });
      const result = resultOf(outDir, 'e2e-') as {
        results: { target: string; route: string; summary: Summary }[];
        ratios: {
          target: string;
          route: string;
          rpsVs: Record<string, number>;
          ceiling: { rps: number } | null;
        }[];
      };
      // The null responder serves hello only: 2 + 2 + 1 combinations.
      expect(result.results.map((r) => `${r.target} ${r.route}`).sort()).toEqual([
        'node-http echo',
        'node-http hello',
        'null-fastcgi hello',
        'sluice-fastcgi-keepalive echo',
        'sluice-fastcgi-keepalive hello',
      ]);
      for (const { summary } of result.results) {
        expect(summary.non2xx).toBe(0);
        expect(summary.socketErrors).toBe(0);
        expect(positive(summary.requests)).toBe(true);
        expect(positive(summary.rps.median)).toBe(true);
        expect(positive(summary.latencyUs.p50)).toBe(true);
        expect(positive(summary.latencyUs.p99)).toBe(true);
        expect(positive(summary.peakRssKb)).toBe(true);
      }
      const hello = result.ratios.find((r) => r.route === 'hello');
      expect(positive(hello?.rpsVs['node-http'])).toBe(true);
      expect(positive(hello?.ceiling?.rps)).toBe(true);
    },
    60_000,
  );

  itWithTools(
    'soak: a few seconds of hello, echo and 64 KiB through nginx, no request lost',
    async () => {
      const run = await runBench(
        'soak.mjs',
        ['--duration', '4s', '--connections', '8', '--fit-skip', '1s'],
        outDir,
      );
      expect({ code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({ code: 0, output: '' });
      const result = resultOf(outDir, 'soak-') as unknown as SoakResult;
      expect(result.options).toMatchObject({ protocol: 'fastcgi-keepalive', workers: 0 });
      expect(result.lost).toBe(0);
      expect(result.daemon.stillActive).toBe(0);
      expect(result.daemon.errors).toBe(0);
      expect(result.nginx.answeredCut).toBe(0);
      expect(result.nginx.errorResponses).toBe(0);
      expect(result.wrk.non2xx).toBe(0);
      expect(result.wrk.socketErrorTotal).toBe(0);
      for (const x of [result.requests, result.rps, result.wrk.requests, result.daemon.admitted]) {
        expect(positive(x)).toBe(true);
      }
      for (const x of [
        result.rss.startKb,
        result.rss.endKb,
        result.rss.peakKb,
        result.fds.start,
        result.fds.end,
      ]) {
        expect(positive(x)).toBe(true);
      }
      expect(result.rss.peakKb).toBeGreaterThanOrEqual(result.rss.endKb);
      expect(result.rss.fit.samples).toBeGreaterThanOrEqual(2);
      expect(Number.isFinite(result.rss.fit.slopeMiBPerMillionRequests)).toBe(true);
      expect(result.samples.length).toBeGreaterThanOrEqual(3);
      const markdown = fs.readdirSync(outDir).filter((f) => f.startsWith('soak-') && f.endsWith('.md'));
      expect(markdown).toHaveLength(1);
    },
    60_000,
  );

  itWithTools(
    'memory: 16 MiB up and down over FastCGI and SCGI, RSS sampled and flat',
    async () => {
      const run = await runBench('memory.mjs', ['--bytes', '16m'], outDir);
      expect({ code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({ code: 0, output: '' });
      const result = resultOf(outDir, 'memory-') as {
        results: { protocol: string; baselineRssKb: number; runs: MemoryRun[] }[];
      };
      expect(result.results.map((r) => r.protocol)).toEqual(['fastcgi', 'scgi']);
      for (const r of result.results) {
        expect(positive(r.baselineRssKb)).toBe(true);
        expect(r.runs.map((x) => x.direction)).toEqual(['upload', 'download']);
        for (const x of r.runs) {
          expect(x.bytes).toBe(16 * 1024 * 1024);
          expect(positive(x.peakRssKb)).toBe(true);
          expect(x.flat).toBe(true);
        }
      }
    },
    60_000,
  );
});
