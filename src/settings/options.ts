// The settings of one daemon: the table's defaults, then the config file, then the flags; and the limits they set.
import {
  FIXED_LIMITS,
  LIMIT_KEYS,
  OPTIONS,
  type LimitKey,
  type OptionKey,
  type OptionSpec,
  type ServeOptions,
} from './table';

/** Where src/process imports it from. */
export type { ServeOptions } from './table';

/** Every setting with a default, from the table's rows. */
export const DEFAULTS: Omit<ServeOptions, 'app'> = Object.freeze(
  Object.fromEntries(
    OPTIONS.filter((spec) => spec.default !== undefined).map((spec) => [spec.key, spec.default]),
  ),
) as Omit<ServeOptions, 'app'>;

const BY_KEY = new Map(OPTIONS.map((spec) => [spec.key, spec]));

export function optionSpec(key: string): OptionSpec | undefined {
  return BY_KEY.get(key as OptionKey);
}

/**
 * One value checked and converted by its row's `parse` (which throws BadValue); a repeatable
 * setting takes one item or an array of them. `item` checks each item in place of `parse`.
 */
export function parseValue(spec: OptionSpec, value: unknown, item = spec.parse): unknown {
  if (!spec.list) return item(value);
  return (Array.isArray(value) ? value : [value]).map((one) => item(one));
}

/**
 * A value given in code (`serve()`), typed as `ServeOptions` holds it, checked by the same `parse`:
 * null is taken where it is the default (no limit), and a number of a setting whose flag spells it
 * otherwise (socketMode 0o660, the flag's "0660") is first written as the flag takes it.
 */
export function parseTypedValue(spec: OptionSpec, value: unknown): unknown {
  if (value === null && spec.default === null) return null;
  return parseValue(spec, value, (one) =>
    spec.parse(typeof one === 'number' && spec.show !== String ? spec.show(one) : one),
  );
}

/** Settings as given (flags or a config file), not yet defaulted. */
export type GivenOptions = Partial<ServeOptions>;

/** Defaults, then the config file, then the flags: the later wins key by key. */
export function mergeOptions(...layers: GivenOptions[]): ServeOptions {
  const merged: Record<string, unknown> = { ...DEFAULTS };
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) if (value !== undefined) merged[key] = value;
  }
  return merged as unknown as ServeOptions;
}

/** Every value of the runtime `Limits`: one per limit setting, and the fixed ones. */
export type LimitValues = { readonly [K in LimitKey]: number } & typeof FIXED_LIMITS;

/** The limits an options set asks for; a null limit (none) is Infinity. */
export function limitsOf(options: Pick<ServeOptions, LimitKey>): LimitValues {
  const limits: Record<string, number> = { ...FIXED_LIMITS };
  for (const key of LIMIT_KEYS) limits[key] = options[key] ?? Infinity;
  return Object.freeze(limits) as LimitValues;
}
