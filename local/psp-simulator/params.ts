// Typed readers for form parameters. Each failure is the 400 Stripe returns for it, with `param` set.

import { invalidRequest, StripeApiError } from './errors';
import { asList, type FormObject, type FormValue } from './form';

const METADATA_MAX_KEYS = 50;
const METADATA_MAX_KEY_LENGTH = 40;
const METADATA_MAX_VALUE_LENGTH = 500;

export function rejectUnknownParams(params: FormObject, allowed: readonly string[], parent?: string): void {
  for (const key of Object.keys(params)) {
    if (allowed.includes(key)) continue;
    const name = parent ? `${parent}[${key}]` : key;
    throw invalidRequest(`Received unknown parameter: ${name}`, { code: 'parameter_unknown', param: name });
  }
}

function missing(name: string) {
  return invalidRequest(`Missing required param: ${name}.`, { code: 'parameter_missing', param: name });
}

function emptyNotAllowed(name: string) {
  return invalidRequest(
    `You passed an empty string for '${name}'. We assume empty values are an attempt to unset a parameter; however '${name}' cannot be unset. You should remove '${name}' from your request or supply a non-empty value.`,
    { code: 'parameter_invalid_empty', param: name },
  );
}

function scalar(params: FormObject, name: string, required: boolean): string | undefined {
  const value = params[name];
  if (value === undefined) {
    if (required) throw missing(name);
    return undefined;
  }
  if (typeof value !== 'string') throw invalidRequest(`Invalid string: ${name} must be a string`, { param: name });
  if (value === '' && required) throw emptyNotAllowed(name);
  return value;
}

/** A string parameter; an empty string (Stripe's "unset") comes back as null. */
export function readString(params: FormObject, name: string): string | null | undefined {
  const value = scalar(params, name, false);
  return value === '' ? null : value;
}

export function readRequiredString(params: FormObject, name: string): string {
  return scalar(params, name, true) as string;
}

interface IntegerBounds {
  required?: boolean;
  min?: number;
  max?: number;
}

export function readInteger(params: FormObject, name: string, bounds: IntegerBounds = {}): number | undefined {
  const raw = scalar(params, name, bounds.required ?? false);
  if (raw === undefined) return undefined;
  if (raw === '') throw emptyNotAllowed(name);
  if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw invalidRequest(`Invalid integer: ${raw}`, { code: 'parameter_invalid_integer', param: name });
  }
  const value = Number(raw);
  if (bounds.min !== undefined && value < bounds.min) {
    throw invalidRequest(`This value must be greater than or equal to ${bounds.min}.`, {
      code: 'parameter_invalid_integer',
      param: name,
    });
  }
  if (bounds.max !== undefined && value > bounds.max) {
    throw invalidRequest(`This value must be less than or equal to ${bounds.max}.`, {
      code: 'parameter_invalid_integer',
      param: name,
    });
  }
  return value;
}

export function readBoolean(params: FormObject, name: string): boolean | undefined {
  const raw = scalar(params, name, false);
  if (raw === undefined) return undefined;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw invalidRequest(`Invalid boolean: ${raw}`, { param: name });
}

export function readEnum<T extends string>(params: FormObject, name: string, values: readonly T[]): T | undefined {
  const raw = scalar(params, name, false);
  if (raw === undefined) return undefined;
  if ((values as readonly string[]).includes(raw)) return raw as T;
  const choices = `${values.slice(0, -1).join(', ')}, or ${values[values.length - 1]}`;
  throw invalidRequest(`Invalid ${name}: must be one of ${choices}`, { param: name });
}

export function readObject(params: FormObject, name: string): FormObject | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value === 'string') throw invalidRequest('Invalid object', { param: name });
  return value;
}

export function readStringList(params: FormObject, name: string): string[] | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value === 'string') throw invalidRequest('Invalid array', { param: name });
  return asList(value).map((item, index) => {
    if (typeof item !== 'string') throw invalidRequest('Invalid string', { param: `${name}[${index}]` });
    return item;
  });
}

/** `metadata[key]=value` pairs; `metadata=` (empty) means "no metadata". Empty values drop the key. */
export function readMetadata(params: FormObject, name = 'metadata'): Record<string, string> | undefined {
  const value: FormValue | undefined = params[name];
  if (value === undefined) return undefined;
  if (value === '') return {};
  if (typeof value === 'string') throw invalidRequest('Invalid object', { param: name });
  const keys = Object.keys(value);
  if (keys.length > METADATA_MAX_KEYS) {
    throw invalidRequest(
      `Invalid ${name}: ${name} can have up to ${METADATA_MAX_KEYS} keys, but you passed in ${keys.length} keys.`,
      {
        param: name,
      },
    );
  }
  const metadata: Record<string, string> = {};
  for (const key of keys) {
    const entry = value[key];
    const param = `${name}[${key}]`;
    if (typeof entry !== 'string') throw invalidRequest('Invalid string', { param });
    if (key.length > METADATA_MAX_KEY_LENGTH) {
      throw invalidRequest(
        `Metadata keys can have up to ${METADATA_MAX_KEY_LENGTH} characters; '${key}' is too long.`,
        {
          param,
        },
      );
    }
    if (entry.length > METADATA_MAX_VALUE_LENGTH) {
      throw invalidRequest(`Metadata values can have up to ${METADATA_MAX_VALUE_LENGTH} characters.`, { param });
    }
    if (entry !== '') metadata[key] = entry;
  }
  return metadata;
}

export function readExpand(params: FormObject): string[] {
  return readStringList(params, 'expand') ?? [];
}

/** Runs a nested reader, reporting its errors against the full parameter name (`line_items[0][quantity]`). */
export function prefixed<T>(prefix: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof StripeApiError && typeof error.body.param === 'string') {
      const inner = error.body.param;
      const outer = `${prefix}${inner.replace(/^([^[]+)/, '[$1]')}`;
      error.body.param = outer;
      error.body.message = error.body.message.replaceAll(`param: ${inner}.`, `param: ${outer}.`);
      error.body.message = error.body.message.replaceAll(`parameter: ${inner}`, `parameter: ${outer}`);
    }
    throw error;
  }
}
