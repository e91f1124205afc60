// What `sluice check-config` prints: every setting of the table with its value, its unit and where it came from.
import type { ServeOptions } from './options';
import { OPTIONS, showValue } from './table';

/** Where a setting's value came from. */
export type Source = 'default' | 'file' | 'flag';

/** One line per setting, in the table's order after `app`, in aligned columns. */
export function settingsReport(options: ServeOptions, sourceOf: (key: string) => Source): string {
  const rows: string[][] = [
    ['setting', 'value', 'unit', 'from'],
    ['app', options.app ?? '-', '', sourceOf('app')],
    ...OPTIONS.map((spec) => [
      spec.key,
      showValue(spec, options[spec.key]),
      spec.unit ?? '',
      sourceOf(spec.key),
    ]),
  ];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows
    .map(
      (row) =>
        row
          .map((cell, i) => cell.padEnd(widths[i]))
          .join('  ')
          .trimEnd() + '\n',
    )
    .join('');
}
