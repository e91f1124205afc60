// How a setting's value is checked and converted, whether it comes as a flag's text or a config file's JSON.
import os from 'node:os';
import { parseAddress } from '../common/address';
import { peerFilter } from '../common/allow';

/** A value that does not fit its setting; the caller names the flag or key. */
export class BadValue extends Error {}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new BadValue('expected a string or a number');
}

export function integer(min: number) {
  return (value: unknown): number => {
    const digits = text(value);
    if (!/^\d{1,15}$/.test(digits) || Number(digits) < min) {
      throw new BadValue(`expected an integer >= ${min}`);
    }
    return Number(digits);
  };
}

/** `auto`: one per CPU. */
export function workerCount(value: unknown): number {
  if (value === 'auto') return os.availableParallelism();
  return integer(0)(value);
}

export function octalMode(value: unknown): number {
  if (typeof value !== 'string' || !/^0?[0-7]{3}$/.test(value)) {
    throw new BadValue('expected an octal mode as a string, such as "0660"');
  }
  return parseInt(value, 8);
}

/** A mode as `octalMode` takes it: 0o660 is "0660". */
export function showOctalMode(mode: number): string {
  return '0' + mode.toString(8).padStart(3, '0');
}

export function mountPrefix(value: unknown): string {
  const prefix = text(value);
  if (prefix === '' || prefix === '/') return '';
  if (!prefix.startsWith('/')) throw new BadValue('a mount prefix starts with /');
  return prefix.replace(/\/+$/, '');
}

/**
 * `PREFIX=DIR` of --static: PREFIX a URL path (its trailing slashes dropped, "/" kept), DIR not
 * empty. Kept as text, as workers receive the settings as JSON; whether DIR exists is checked at start.
 */
export function staticMount(value: unknown): string {
  const spec = text(value);
  const equals = spec.indexOf('=');
  const prefix = spec.slice(0, equals);
  const dir = spec.slice(equals + 1);
  if (equals === -1 || !prefix.startsWith('/') || dir === '') {
    throw new BadValue('expected PREFIX=DIR, such as /static=public');
  }
  return `${prefix.replace(/(.)\/+$/, '$1')}=${dir}`;
}

export function requestPath(value: unknown): string {
  const path = text(value);
  if (!path.startsWith('/')) throw new BadValue('a path starts with /');
  return path;
}

export function address(value: unknown): string {
  const spec = text(value);
  try {
    parseAddress(spec);
  } catch (error) {
    throw new BadValue((error as Error).message);
  }
  return spec;
}

/** Addresses or CIDR ranges; `unix` stands for front ends on Unix sockets where that is allowed. */
export function peers(allowUnix: boolean) {
  return (value: unknown): string => {
    const spec = text(value);
    const entries = spec.split(',').map((s) => s.trim());
    try {
      peerFilter(allowUnix ? entries.filter((e) => e !== 'unix') : entries);
    } catch (error) {
      throw new BadValue((error as Error).message);
    }
    return spec;
  };
}

export function nonEmpty(value: unknown): string {
  const s = text(value);
  if (s === '') throw new BadValue('expected a non-empty string');
  return s;
}

export function switchValue(value: unknown): boolean {
  if (typeof value !== 'boolean') throw new BadValue('expected true or false');
  return value;
}

export function oneOf<T extends string>(names: readonly T[]) {
  return (value: unknown): T => {
    if (typeof value !== 'string' || !(names as readonly string[]).includes(value)) {
      throw new BadValue(`expected one of ${names.join(', ')}`);
    }
    return value as T;
  };
}
