// `npm run fuzz`: the parsers' properties over hundreds of thousands of inputs each, then a summary table.
//
//   npm run fuzz                              # 350 000 inputs per property (about 10^6 per parser)
//   SLUICE_FUZZ_RUNS=2000 npm run fuzz        # a quick pass
//   SLUICE_FUZZ_SEED=… SLUICE_FUZZ_PATH=… npm run fuzz   # replay a reported failure
//
// The properties are the ones `npm test` runs with a few hundred inputs (test/fuzz/*.test.ts).
import fc from 'fast-check';
import { FASTCGI_PROPERTIES } from './fastcgi.properties';
import { PAIRS_PROPERTIES } from './pairs.properties';
import { fuzzParameters, type FuzzProperty } from './property';
import { SCGI_PROPERTIES } from './scgi.properties';

const DEFAULT_RUNS = 350_000;

interface Row {
  property: FuzzProperty;
  details: fc.RunDetails<unknown>;
  seconds: number;
}

const count = (n: number): string => n.toLocaleString('en-US');

function highWaterCells(property: FuzzProperty): [string, string] {
  const highWater = property.highWater;
  if (highWater === undefined) return ['—', '—'];
  const { mark, bound } = highWater.closest;
  const share = bound === 0 ? '—' : `${((100 * mark) / bound).toFixed(1)} %`;
  return [count(highWater.max), `${count(mark)} of ${count(bound)} (${share})`];
}

function table(rows: Row[]): string {
  const lines = [
    '| parser | property | inputs | failures | time | inputs/s | max high-water (bytes) | closest to its bound |',
    '| ------ | -------- | -----: | -------: | ---: | -------: | ---------------------: | -------------------: |',
  ];
  for (const { property, details, seconds } of rows) {
    const [max, closest] = highWaterCells(property);
    lines.push(
      `| ${property.parser} | ${property.name} | ${count(details.numRuns)} | ${details.failed ? 1 : 0} | ` +
        `${seconds.toFixed(1)} s | ${count(Math.round(details.numRuns / seconds))} | ${max} | ${closest} |`,
    );
  }
  const parsers = [...new Set(rows.map((r) => r.property.parser))];
  for (const parser of parsers) {
    const mine = rows.filter((r) => r.property.parser === parser);
    const inputs = mine.reduce((sum, r) => sum + r.details.numRuns, 0);
    const seconds = mine.reduce((sum, r) => sum + r.seconds, 0);
    const failures = mine.filter((r) => r.details.failed).length;
    lines.push(
      `| **${parser}** | all | **${count(inputs)}** | **${failures}** | ${seconds.toFixed(1)} s | ` +
        `${count(Math.round(inputs / seconds))} | | |`,
    );
  }
  return lines.join('\n');
}

function main(): number {
  process.env.SLUICE_FUZZ_RUNS ??= String(DEFAULT_RUNS);
  const parameters = fuzzParameters();
  const properties = [...SCGI_PROPERTIES, ...FASTCGI_PROPERTIES, ...PAIRS_PROPERTIES];
  const started = new Date();
  const rows: Row[] = [];
  for (const property of properties) {
    process.stderr.write(`${property.parser}: ${property.name} … `);
    const t0 = performance.now();
    const details = property.check(parameters);
    const seconds = (performance.now() - t0) / 1000;
    process.stderr.write(
      `${count(details.numRuns)} inputs in ${seconds.toFixed(1)} s${details.failed ? ', FAILED' : ''}\n`,
    );
    rows.push({ property, details, seconds });
  }
  const total = rows.reduce((sum, r) => sum + r.seconds, 0);
  console.log(
    `\nsluice fuzz, ${started.toISOString()}: ${count(parameters.numRuns ?? 0)} inputs per property, ` +
      `${total.toFixed(0)} s in all; node ${process.version}\n`,
  );
  console.log(table(rows));
  const failed = rows.filter((r) => r.details.failed);
  for (const { property, details } of failed) {
    console.log(`\n${property.parser}: ${property.name}\n${fc.defaultReportMessage(details)}`);
  }
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = main();
