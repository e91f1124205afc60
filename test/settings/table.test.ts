// The settings table is the one place a default is written: --help, check-config, the config file,
// DEFAULT_LIMITS, docs/limits.md and docs/cli.md are held to it here.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli';
import { DEFAULT_LIMITS } from '../../src/runtime/limits';
import { checkConfig } from '../../src/settings/config-file';
import { defaultText, FIXED_LIMITS, LIMIT_KEYS, OPTIONS, type OptionSpec } from '../../src/settings/table';
import { usageCode } from '../helpers/usage';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const LIMIT_ROWS = OPTIONS.filter((spec) => spec.limit);

function longFlag(spec: OptionSpec): string {
  return spec.flag.split(' ')[0];
}

/** The program's `serve` command, as `sluice serve --help` shows it. */
function serveCommand(): Command {
  const program = buildProgram(() => undefined);
  return program.commands.find((command) => command.name() === 'serve')!;
}

/** Each option's description in the help text, wrapped lines joined, by long flag. */
function helpDescriptions(help: string): Map<string, string> {
  const entries = new Map<string, string>();
  let current: string | null = null;
  for (const line of help.split('\n')) {
    const start = /^ {2}(?:-\w, )?(--[\w-]+)(?: <[^>]+>)? {2,}(.*)$/.exec(line);
    if (start !== null) {
      current = start[1];
      entries.set(current, start[2].trim());
    } else if (current !== null && /^ {3,}\S/.test(line)) {
      entries.set(current, `${entries.get(current)} ${line.trim()}`);
    } else {
      current = null;
    }
  }
  return entries;
}

/** A default as a flag takes it ("1048576", "0660", "none") back to the row's value. */
function fromFlagText(spec: OptionSpec, text: string): unknown {
  if (text === 'none') return null;
  return spec.list ? text.split(' ').map((item) => spec.parse(item)) : spec.parse(text);
}

const SCALE: Record<string, { unit: string; factor: number }> = {
  KiB: { unit: 'bytes', factor: 1024 },
  MiB: { unit: 'bytes', factor: 1024 ** 2 },
  GiB: { unit: 'bytes', factor: 1024 ** 3 },
  ms: { unit: 'ms', factor: 1 },
  s: { unit: 'ms', factor: 1000 },
  min: { unit: 'ms', factor: 60_000 },
};

/**
 * A default as the docs write it for reading ("1 MiB", "30 s", "10 000", "0 (none)", "none",
 * `0660`) back to a value in the row's unit; a suffix must fit the unit ("30 s" is no byte count).
 */
function fromDocsText(unit: string | undefined, cell: string, parse: (text: string) => unknown): unknown {
  const text = cell.replace(/`/g, '').replace(/\s*\(.*\)$/, '');
  if (text === 'none') return null;
  const number = /^(\d{1,3}(?: \d{3})+|\d+)(?: (\w+))?$/.exec(text);
  if (number === null || unit === undefined) return parse(text);
  const value = Number(number[1].replace(/ /g, ''));
  if (number[2] === undefined) {
    if (unit === 'ms' && value !== 0) throw new Error(`${cell}: milliseconds need a unit (ms, s, min)`);
    return value;
  }
  const scale = SCALE[number[2]];
  if (scale?.unit !== unit) throw new Error(`${cell}: ${number[2]} is not a unit of ${unit}`);
  return value * scale.factor;
}

/** The first table after `heading` in a markdown file: one record per row, keyed by column title. */
function markdownTable(file: string, heading: RegExp): Array<Record<string, string>> {
  const lines = readFileSync(path.join(REPO_ROOT, file), 'utf8').split('\n');
  const from = lines.findIndex((line) => heading.test(line));
  expect(from).toBeGreaterThanOrEqual(0);
  const start = lines.findIndex((line, i) => i > from && line.startsWith('|'));
  const rows: string[][] = [];
  for (let i = start; i < lines.length && lines[i].startsWith('|'); i++) {
    rows.push(
      lines[i]
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
  }
  const [titles, , ...body] = rows;
  return body.map((cells) => Object.fromEntries(titles.map((title, i) => [title, cells[i]])));
}

describe('the rows', () => {
  test.each(OPTIONS.map((spec) => [spec.key, spec]))(
    '%s: the key is the long flag in camelCase',
    (key, spec) => {
      const camel = longFlag(spec)
        .slice(2)
        .replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
      expect(camel).toBe(key);
    },
  );

  test.each(OPTIONS.map((spec) => [spec.key, spec]))(
    '%s: numbers have a unit, and only numbers',
    (_key, spec) => {
      const argument = /<([^>]+)>/.exec(spec.flag)?.[1];
      const numeric = ['N', 'MS', 'MB', 'N|auto'].includes(argument ?? '');
      expect(spec.unit !== undefined).toBe(numeric);
      if (argument === 'MS') expect(spec.unit).toBe('ms');
      if (spec.limit) expect(spec.default === null || typeof spec.default === 'number').toBe(true);
    },
  );
});

describe('--help', () => {
  const help = helpDescriptions(serveCommand().helpInformation());

  test.each(OPTIONS.map((spec) => [spec.key, spec]))('%s: the help shows the row’s default', (_key, spec) => {
    const description = help.get(longFlag(spec));
    expect(description).toBeDefined();
    const expected = defaultText(spec);
    if (expected === undefined) {
      // Nothing to show (unset, empty, a switch that is off): no default written by hand either.
      expect(description).not.toMatch(/\(default/);
      return;
    }
    expect(description!.split('(default').length - 1).toBe(1);
    expect(description).toMatch(/\)$/);
    const shown = description!.slice(description!.lastIndexOf('(default ') + '(default '.length, -1);
    expect(shown).toBe(expected);
    if (spec.whenUnset === undefined) expect(fromFlagText(spec, shown!)).toEqual(spec.default);
  });
});

describe('the config file', () => {
  test.each(OPTIONS.map((spec) => [spec.key, spec]))('%s is a key checkConfig accepts', (key, spec) => {
    const value = spec.default;
    if (value === undefined || value === null) {
      expect(usageCode(() => checkConfig({ [key]: 'x' }, 'x.json'))).not.toBe('ERR_CONFIG_KEY');
      return;
    }
    // The default written as a config file would hold it reads back as the default.
    const written =
      typeof value === 'boolean'
        ? value
        : Array.isArray(value)
          ? value.map((item) => spec.show(item))
          : spec.show(value);
    expect(checkConfig({ [key]: written }, 'x.json')).toEqual({ [key]: value });
  });
});

describe('check-config', () => {
  test('prints every setting with its value, its unit and where it came from', async () => {
    let output = '';
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      output += String(chunk);
      return true;
    });
    try {
      let task: Promise<number> = Promise.resolve(-1);
      const program = buildProgram((t) => (task = t));
      await program.parseAsync(
        ['check-config', 'examples/hello.mjs', '--scgi', ':4000', '--max-header-bytes', '2048'],
        { from: 'user' },
      );
      expect(await task).toBe(0);
    } finally {
      write.mockRestore();
    }
    const lines = new Map(
      output
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((line) => line.split(/\s{2,}/))
        .map(([setting, ...rest]) => [setting, rest]),
    );
    expect([...lines.keys()]).toEqual(['app', ...OPTIONS.map((spec) => spec.key)]);
    expect(lines.get('scgi')).toEqual([':4000', 'flag']);
    expect(lines.get('maxHeaderBytes')).toEqual(['2048', 'bytes', 'flag']);
    for (const spec of OPTIONS) {
      if (['scgi', 'maxHeaderBytes'].includes(spec.key)) continue;
      const [value, ...rest] = lines.get(spec.key)!;
      expect(rest).toEqual(spec.unit === undefined ? ['default'] : [spec.unit, 'default']);
      if (defaultText(spec) !== undefined && spec.whenUnset === undefined) {
        expect(fromFlagText(spec, value)).toEqual(spec.default);
      }
    }
  });
});

describe('DEFAULT_LIMITS', () => {
  test('holds the limit rows’ defaults (null: Infinity) and the fixed limits, nothing else', () => {
    const expected: Record<string, number> = { ...FIXED_LIMITS };
    for (const spec of LIMIT_ROWS) expected[spec.key] = (spec.default as number | null) ?? Infinity;
    expect({ ...DEFAULT_LIMITS }).toEqual(expected);
    expect(LIMIT_KEYS).toEqual(LIMIT_ROWS.map((spec) => spec.key));
  });
});

describe('docs/limits.md', () => {
  const rows = markdownTable('docs/limits.md', /^# Limits/);

  test('lists exactly the limit settings, and the fixed limits apart', () => {
    const flags = rows.filter((row) => row.flag !== '—').map((row) => row.flag.replace(/`/g, ''));
    expect(flags.sort()).toEqual(LIMIT_ROWS.map(longFlag).sort());
    const fixed = rows
      .filter((row) => row.flag === '—')
      .flatMap((row) => [...row.limit.matchAll(/`(\w+)`/g)].map((m) => m[1]));
    expect(fixed.sort()).toEqual(Object.keys(FIXED_LIMITS).sort());
  });

  test.each(LIMIT_ROWS.map((spec) => [longFlag(spec), spec]))('%s: same unit and default', (flag, spec) => {
    const row = rows.find((r) => r.flag === `\`${flag}\``)!;
    expect(row.unit).toBe(spec.unit);
    expect(fromDocsText(spec.unit, row.default, (text) => spec.parse(text))).toEqual(spec.default);
  });

  test('the fixed limits: same units and values as FIXED_LIMITS', () => {
    for (const row of rows.filter((r) => r.flag === '—')) {
      const fields = [...row.limit.matchAll(/`(\w+)`/g)].map((m) => m[1]) as Array<keyof typeof FIXED_LIMITS>;
      const units = row.unit.split(', ');
      const values = row.default.split(' or ');
      expect(units).toHaveLength(fields.length);
      fields.forEach((field, i) => {
        expect(fromDocsText(units[i], values[i], Number)).toBe(FIXED_LIMITS[field]);
      });
    }
  });
});

describe('docs/cli.md', () => {
  const rows = markdownTable('docs/cli.md', /^## sluice serve/).filter((row) => row['config key'] !== '—');

  test('lists every setting once, by flag and config key', () => {
    expect(rows.map((row) => row['config key'].replace(/`/g, ''))).toEqual(OPTIONS.map((spec) => spec.key));
    for (const [i, spec] of OPTIONS.entries())
      expect(rows[i].flag).toMatch(new RegExp(`^\`${longFlag(spec)}\\b`));
  });

  test.each(OPTIONS.map((spec) => [spec.key, spec]))('%s: same default', (key, spec) => {
    const cell = rows.find((row) => row['config key'] === `\`${key}\``)!.default;
    if (spec.whenUnset !== undefined) {
      expect(cell).toBe(spec.whenUnset);
    } else if (spec.default === false) {
      expect(cell).toBe('off');
    } else if (defaultText(spec) === undefined) {
      expect(cell).toBe('—');
    } else {
      const parse = (text: string): unknown =>
        spec.list ? text.split(' ').map((item) => spec.parse(item)) : spec.parse(text);
      expect(fromDocsText(spec.unit, cell, parse)).toEqual(spec.default);
    }
  });
});
