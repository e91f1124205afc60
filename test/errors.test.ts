// docs/errors.md against the source: every code sluice can raise or log is listed there once, with the
// status and kind the source gives it, and the page lists no code the source never uses.
import fs from 'node:fs';
import path from 'node:path';
import { CLIENT_ERROR_KINDS } from '../src/client/errors';
import { ERROR_CODES, type LoggedCode, type SluiceErrorCode } from '../src/errors';
import { FASTCGI_ERROR_CODES } from '../src/fastcgi/errors';
import { SCGI_ERROR_STATUS } from '../src/scgi/errors';

const ROOT = path.join(__dirname, '..');

interface Declared {
  readonly status?: number;
  readonly kind?: string;
}

/** Every code, from the tables that declare them; the type fails the build if an area is left out. */
const DECLARED: Readonly<Record<SluiceErrorCode | LoggedCode, Declared>> = {
  ...mapValues(SCGI_ERROR_STATUS, (status): Declared => (status === undefined ? {} : { status })),
  ...mapValues(FASTCGI_ERROR_CODES, (): Declared => ({})),
  ...mapValues(CLIENT_ERROR_KINDS, (kind): Declared => ({ kind })),
  ...ERROR_CODES,
};

/** Codes of Node's own errors that the source compares against: not sluice's to document. */
const NODE_CODES = new Set(['ERR_REQUIRE_ESM']);

function mapValues<K extends string, V, W>(table: Readonly<Record<K, V>>, fn: (value: V) => W): Record<K, W> {
  const out = {} as Record<K, W>;
  for (const key of Object.keys(table) as K[]) out[key] = fn(table[key]);
  return out;
}

interface DocRow {
  readonly code: string;
  readonly section: string;
  /** The status and kind columns, where the table has them ('—' for none). */
  readonly status?: string;
  readonly kind?: string;
}

/** The rows of every table in docs/errors.md whose first cell is a code. */
function documentedRows(): DocRow[] {
  const rows: DocRow[] = [];
  let section = '';
  let columns: string[] | null = null;
  for (const line of fs.readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8').split('\n')) {
    if (line.startsWith('## ')) section = line.slice(3);
    if (!line.startsWith('|')) {
      columns = null;
      continue;
    }
    const cells = line
      .slice(1, line.lastIndexOf('|'))
      .split('|')
      .map((cell) => cell.trim());
    if (columns === null) {
      columns = cells;
      continue;
    }
    const code = /^`(ERR_[A-Z0-9_]+)`$/.exec(cells[0])?.[1];
    if (code === undefined) continue;
    const cell = (name: string): string | undefined => {
      const at = columns!.indexOf(name);
      return at === -1 ? undefined : cells[at];
    };
    rows.push({ code, section, status: cell('status'), kind: cell('kind') });
  }
  return rows;
}

/** Every `'ERR_…'` literal in src outside the files that declare the codes (src/errors.ts, src/*\/errors.ts). */
function usedCodes(): Set<string> {
  const codes = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.ts') && entry.name !== 'errors.ts') {
        for (const match of fs.readFileSync(file, 'utf8').matchAll(/(['"`])(ERR_[A-Z0-9_]+)\1/g)) {
          codes.add(match[2]);
        }
      }
    }
  };
  walk(path.join(ROOT, 'src'));
  return codes;
}

const sorted = (codes: Iterable<string>): string[] => [...codes].sort();
const declared = new Set(Object.keys(DECLARED));
const rows = documentedRows();
const documented = new Set(rows.map((row) => row.code));

test('docs/errors.md lists each code once', () => {
  const seen = new Set<string>();
  const twice = rows.filter((row) => seen.size === seen.add(row.code).size).map((row) => row.code);
  expect(twice).toEqual([]);
});

test('docs/errors.md lists exactly the declared codes', () => {
  expect({
    undocumented: sorted([...declared].filter((code) => !documented.has(code))),
    documentedButUndeclared: sorted([...documented].filter((code) => !declared.has(code))),
  }).toEqual({ undocumented: [], documentedButUndeclared: [] });
});

test('the source uses exactly the declared codes', () => {
  const used = usedCodes();
  expect({
    usedButUndeclared: sorted([...used].filter((code) => !declared.has(code) && !NODE_CODES.has(code))),
    declaredButNeverUsed: sorted([...declared].filter((code) => !used.has(code))),
  }).toEqual({ usedButUndeclared: [], declaredButNeverUsed: [] });
});

test('the status and kind columns say what the source says', () => {
  const wrong: string[] = [];
  for (const row of rows) {
    const entry: Declared | undefined = DECLARED[row.code as SluiceErrorCode];
    if (entry === undefined) continue;
    const status = entry.status === undefined ? '—' : String(entry.status);
    if (row.status !== undefined && row.status !== status) {
      wrong.push(`${row.code} (${row.section}): status ${row.status} in the docs, ${status} in the source`);
    }
    if (row.kind !== undefined && row.kind !== entry.kind) {
      wrong.push(`${row.code} (${row.section}): kind ${row.kind} in the docs, ${entry.kind} in the source`);
    }
  }
  expect(wrong).toEqual([]);
});
