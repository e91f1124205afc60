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
