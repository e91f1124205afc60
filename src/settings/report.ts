// What `sluice check-config` prints: every setting of the table with its value, its unit and where it came from,
// then the pipeline the composition keys build.
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

/**
 * The pipeline a request passes through, top to bottom: the settings' keys, each middleware (outermost
 * first) with its options, then the app, or the apps by prefix (longest first, the order the map
 * tries them). Empty when the config file has no composition keys.
 */
export function pipelineReport(options: ServeOptions): string {
  if (options.settings === undefined && options.middleware === undefined && options.apps === undefined)
    return '';
  const rows: string[][] = [];
  if (options.settings !== undefined) {
    const keys = Object.keys(options.settings);
    rows.push(['settings', keys.length === 0 ? '(none)' : keys.join(', ')]);
  }
  for (const spec of options.middleware ?? [])
    rows.push(['middleware', `${spec.use} ${JSON.stringify(spec.options)}`]);
  if (options.apps === undefined) rows.push(['app', options.app ?? '-']);
  for (const mount of options.apps ?? []) rows.push([`app ${mount.prefix || '/'}`, mount.app]);
  const width = Math.max(...rows.map(([name]) => name.length));
  return (
    '\npipeline (a request passes it top to bottom):\n' +
    rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}\n`).join('')
  );
}
