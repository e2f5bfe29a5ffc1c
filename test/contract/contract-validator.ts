// Validates raw JSON bodies against the generated Stripe schemas (stripe-schemas.ts) with ajv, and turns
// ajv's errors into short drift reports: the object type, the JSON path and what is wrong, never the body.

import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { JsonSchema, RootType, StripeSchemas } from './stripe-schemas';

/** What a response body is expected to be. */
export type ContractKind =
  | 'PaymentIntent'
  | 'Checkout.Session'
  | 'Charge'
  | 'PaymentMethod'
  | 'Event'
  | 'ApiList<PaymentIntent>'
  | 'SearchResult<PaymentIntent>'
  | 'ApiList<Checkout.Session>'
  | 'ApiList<Charge>'
  | 'ApiList<Event>'
  | 'ErrorEnvelope';

const ROOT_OF: Record<Exclude<ContractKind, 'Event' | 'ApiList<Event>'>, RootType> = {
  PaymentIntent: 'Contract_PaymentIntent',
  'Checkout.Session': 'Contract_CheckoutSession',
  Charge: 'Contract_Charge',
  PaymentMethod: 'Contract_PaymentMethod',
  'ApiList<PaymentIntent>': 'Contract_PaymentIntentList',
  'SearchResult<PaymentIntent>': 'Contract_PaymentIntentSearchResult',
  'ApiList<Checkout.Session>': 'Contract_CheckoutSessionList',
  'ApiList<Charge>': 'Contract_ChargeList',
  ErrorEnvelope: 'Contract_ErrorEnvelope',
};

export interface Violation {
  /** JSON pointer into the validated body (`/error/payment_intent/status`); a missing property's own path. */
  path: string;
  message: string;
  keyword: string;
}

const SCHEMA_ID = 'stripe-contract';
const MAX_LISTED_VALUES = 12;
const MAX_VIOLATIONS_SHOWN = 15;

export class ContractValidator {
  private readonly ajv: Ajv;
  private readonly definitions: Record<string, JsonSchema>;
  private readonly compiled = new Map<string, ValidateFunction>();
  /** Event type -> JSON pointer of its schema (a property of Contract_Events). */
  readonly eventTypes: ReadonlyMap<string, string>;

  constructor(readonly schemas: StripeSchemas) {
    this.definitions = schemas.schema.definitions;
    // allErrors: report every drift at once, not the first. verbose: errors carry the failing value and
    // schema, to say what was sent and what was allowed. strict: refuse keywords ajv does not enforce.
    this.ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
    this.ajv.addSchema({ ...schemas.schema, $id: SCHEMA_ID });
    this.eventTypes = this.readEventTypes();
  }

  /** The violations of a body of the given kind (empty when it conforms). */
  validate(kind: ContractKind, body: unknown): Violation[] {
    if (kind === 'Event') return this.validateEvent(body, '');
    if (kind === 'ApiList<Event>') {
      const violations = this.run('/definitions/Contract_EventList', body, '');
      const data = (body as { data?: unknown } | null)?.data;
      if (Array.isArray(data)) {
        for (const [index, event] of data.entries()) violations.push(...this.validateEvent(event, `/data/${index}`));
      }
      return dedupe(violations);
    }
    return this.run(`/definitions/${ROOT_OF[kind]}`, body, '');
  }

  /** An event: the common envelope, then `data.object` by the schema of its `type`. */
  private validateEvent(event: unknown, prefix: string): Violation[] {
    const violations = this.run('/definitions/Contract_EventBase', event, prefix);
    const type = (event as { type?: unknown } | null)?.type;
    if (typeof type === 'string') {
      const pointer = this.eventTypes.get(type);
      if (pointer) violations.push(...this.run(pointer, event, prefix));
      else
        violations.push({
          path: `${prefix}/type`,
          keyword: 'contract',
          message: `no schema for event type '${type}': add it to Contract_Events in test/contract/stripe-contract-types.ts`,
        });
    }
    return dedupe(violations);
  }

  private run(pointer: string, body: unknown, prefix: string): Violation[] {
    let validate = this.compiled.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${SCHEMA_ID}#${pointer}` });
      this.compiled.set(pointer, validate);
    }
    if (validate(body)) return [];
    return this.describe(validate.errors ?? []).map((v) => ({ ...v, path: `${prefix}${v.path}` }));
  }

  /** Contract_Events maps each event type to its interface; checks that each maps to the right one. */
  private readEventTypes(): Map<string, string> {
    const events = this.definitions.Contract_Events;
    const properties = (events?.properties ?? {}) as Record<string, JsonSchema>;
    const map = new Map<string, string>();
    for (const [type, schema] of Object.entries(properties)) {
      const declared = this.resolve(schema).properties as Record<string, JsonSchema> | undefined;
      const constant = declared?.type?.const;
      if (constant !== type) {
        throw new Error(`Contract_Events['${type}'] is an event of type ${JSON.stringify(constant)}`);
      }
      map.set(type, `/definitions/Contract_Events/properties/${type.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    }
    if (map.size === 0) throw new Error('Contract_Events has no event types');
    return map;
  }

  private resolve(schema: JsonSchema | undefined): JsonSchema {
    let current = schema ?? {};
    for (let depth = 0; depth < 20 && typeof current.$ref === 'string'; depth++) {
      current = this.definitions[decodeURIComponent(current.$ref.replace('#/definitions/', ''))] ?? {};
    }
    return current;
  }

  /**
   * ajv's errors as violations. A union (`string | Customer | null`) that matches no alternative makes ajv
   * report each alternative's failure at the same path plus "must match a schema in anyOf": they are folded
   * into one line naming the alternatives, unless deeper errors say why the object alternative failed, in
   * which case those are kept instead.
   */
  private describe(errors: ErrorObject[]): Violation[] {
    const unionPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
    const violations: Violation[] = [];
    for (const error of errors) {
      const path = error.instancePath;
      if (error.keyword === 'anyOf') {
        const deeper = errors.some((other) => effectivePath(other).startsWith(`${path}/`));
        if (deeper) continue;
        violations.push({
          path,
          keyword: 'anyOf',
          message: `must be ${this.summarize(error.schema)}, got ${show(error.data)}`,
        });
        continue;
      }
      if (unionPaths.has(path) && ['type', 'const', 'enum', 'not'].includes(error.keyword)) continue;
      violations.push({ path: effectivePath(error), keyword: error.keyword, message: this.message(error) });
    }
    return dedupe(violations);
  }

  private message(error: ErrorObject): string {
    switch (error.keyword) {
      case 'required':
        return 'required property is missing';
      case 'enum':
        return `must be one of ${listValues(error.schema as unknown[])}, got ${show(error.data)}`;
      case 'const':
        return `must be ${show(error.schema)}, got ${show(error.data)}`;
      case 'type':
        return `must be ${[error.schema].flat().join(' | ')}, got ${show(error.data)}`;
      default:
        return `${error.message ?? error.keyword}, got ${show(error.data)}`;
    }
  }

  /** A short description of the alternatives of a union (enums spelled out). */
  private summarize(schema: unknown, depth = 0): string {
    if (Array.isArray(schema)) return schema.map((s) => this.summarize(s, depth + 1)).join(' | ');
    if (typeof schema !== 'object' || schema === null) return String(schema);
    const s = schema as JsonSchema;
    if (typeof s.$ref === 'string') {
      const target = this.resolve(s);
      if (Array.isArray(target.enum) || 'const' in target) return this.summarize(target, depth + 1);
      return typeName(s.$ref);
    }
    if (Array.isArray(s.enum)) return listValues(s.enum);
    if ('const' in s) return show(s.const);
    if (Array.isArray(s.anyOf) && depth < 3) return this.summarize(s.anyOf, depth + 1);
    if (s.type === 'array') return 'an array';
    if (s.type !== undefined) return [s.type].flat().join(' | ');
    return 'an object';
  }
}

/** A required-property error points at the parent; report the missing property's own path. */
function effectivePath(error: ErrorObject): string {
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty?: string }).missingProperty ?? '';
    return `${error.instancePath}/${missing.replace(/~/g, '~0').replace(/\//g, '~1')}`;
  }
  return error.instancePath;
}

function typeName(ref: string): string {
  return decodeURIComponent(ref.replace('#/definitions/', '')).replace(/StripeConstructor\./g, '');
}

function listValues(values: unknown[]): string {
  const shown = values.slice(0, MAX_LISTED_VALUES).map(show);
  return values.length > MAX_LISTED_VALUES ? `${shown.join(' | ')} | ... (${values.length} values)` : shown.join(' | ');
}

/** A value, briefly: never a whole object. */
function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') {
    const object = (value as { object?: unknown }).object;
    return typeof object === 'string' ? `an object (${object})` : 'an object';
  }
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function dedupe(violations: Violation[]): Violation[] {
  const seen = new Set<string>();
  return violations.filter((v) => {
    const key = `${v.path}\u0000${v.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** One validated body and where it came from. */
export interface CheckedDocument {
  kind: ContractKind;
  /** `POST /v1/payment_intents -> 402`, or what the body is when it was not a response. */
  source: string;
  body: unknown;
  violations: Violation[];
}

/**
 * The drift report of the failing documents: one header per body (object type, where it came from and
 * the stripe version), then one line per violation: JSON path, the Stripe object it sits in, the message.
 */
export function formatReport(documents: CheckedDocument[], stripeVersion: string): string {
  const lines: string[] = [];
  for (const doc of documents) {
    if (doc.violations.length === 0) continue;
    lines.push(`${doc.kind} from ${doc.source} does not match stripe@${stripeVersion}:`);
    for (const violation of doc.violations.slice(0, MAX_VIOLATIONS_SHOWN)) {
      const inside = enclosingObject(doc.body, violation.path);
      lines.push(`  ${violation.path || '/'}${inside ? ` (in ${inside})` : ''}: ${violation.message}`);
    }
    if (doc.violations.length > MAX_VIOLATIONS_SHOWN) {
      lines.push(`  ... and ${doc.violations.length - MAX_VIOLATIONS_SHOWN} more`);
    }
  }
  return lines.join('\n');
}

/** The innermost Stripe object (`payment_intent pi_...`) on the way to a path, when it is a nested one. */
function enclosingObject(body: unknown, pointer: string): string | undefined {
  const segments = pointer.split('/').slice(1);
  let current: unknown = body;
  let found: string | undefined;
  for (const [index, segment] of segments.entries()) {
    if (typeof current !== 'object' || current === null) break;
    const record = current as Record<string, unknown>;
    if (index > 0 && typeof record.object === 'string') {
      found = typeof record.id === 'string' ? `${record.object} ${record.id}` : record.object;
    }
    current = record[segment.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return found;
}
