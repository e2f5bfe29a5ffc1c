// Stripe's v1 wire format: application/x-www-form-urlencoded with bracketed nested keys
// (`metadata[order]=x`, `payment_method_types[0]=card`, `expand[]=y`).
//
// Arrays stay objects keyed by index here: `metadata[0]=x` must remain a map entry, and only the
// endpoint knows which parameters are lists (see `asList`).

export type FormValue = string | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

export class FormError extends Error {}

export function parseForm(input: string): FormObject {
  const root: FormObject = {};
  for (const pair of input.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    assign(root, splitKey(decode(rawKey)), decode(rawValue));
  }
  return root;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new FormError(`Invalid URL encoding: ${text}`);
  }
}

function splitKey(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const segments = [key.slice(0, open)];
  const rest = key.slice(open);
  const pattern = /\[([^\]]*)\]/g;
  let consumed = 0;
  for (let match = pattern.exec(rest); match; match = pattern.exec(rest)) {
    if (match.index !== consumed) break;
    segments.push(match[1] ?? '');
    consumed = pattern.lastIndex;
  }
  if (consumed !== rest.length) throw new FormError(`Invalid parameter name: ${key}`);
  return segments;
}

function assign(root: FormObject, segments: string[], value: string): void {
  let container = root;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] === '' ? String(Object.keys(container).length) : (segments[i] ?? '');
    if (i === segments.length - 1) {
      if (typeof container[segment] === 'object') throw new FormError(`Invalid parameter structure: ${segments[0]}`);
      container[segment] = value;
      return;
    }
    const next = container[segment] ?? {};
    if (typeof next === 'string') throw new FormError(`Invalid parameter structure: ${segments[0]}`);
    container[segment] = next;
    container = next;
  }
}

/** Values of an indexed list (`a[0]=x&a[1]=y` or `a[]=x&a[]=y`), in index order. */
export function asList(value: FormValue): FormValue[] {
  if (typeof value === 'string') return [value];
  return Object.keys(value)
    .sort((a, b) => Number(a) - Number(b))
    .map((key) => value[key] as FormValue);
}

/** Order-independent rendering of parameters, for comparing idempotent requests. */
export function canonicalForm(value: FormValue): string {
  if (typeof value === 'string') return JSON.stringify(value);
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalForm(value[key] as FormValue)}`).join(',')}}`;
}
