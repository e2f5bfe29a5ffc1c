// A subset of Stripe's search query language (https://docs.stripe.com/search#search-query-language):
//   status:'succeeded' AND metadata['payment_id']:'pay_123' AND amount>=1000 AND -currency:'eur'
// Clauses are joined by AND, OR or plain whitespace (AND), never both AND and OR; `:` is an exact,
// case-insensitive match; numbers also take > < >= <=; `metadata['k']:null` matches a missing key.

import { invalidRequest } from './errors';

type Operator = ':' | '>' | '<' | '>=' | '<=';
type Literal = string | number | null;

interface Clause {
  negated: boolean;
  field: string;
  metadataKey?: string;
  operator: Operator;
  value: Literal;
}

export interface SearchQuery {
  combinator: 'AND' | 'OR';
  clauses: Clause[];
}

/** What a resource exposes to search: typed top-level fields and its metadata. */
export interface SearchDocument {
  fields: Record<string, string | number | null>;
  metadata: Record<string, string>;
}

export type FieldTypes = Record<string, 'string' | 'number'>;

const MAX_CLAUSES = 10;

function queryError(detail: string) {
  return invalidRequest(
    `We were unable to parse your search query (${detail}). Try using the format \`metadata['key']:'value'\` to query for metadata or \`key:'value'\` to query for attributes.`,
    { param: 'query' },
  );
}

export function parseSearchQuery(text: string, resource: string, fieldTypes: FieldTypes): SearchQuery {
  const scanner = new Scanner(text);
  const clauses: Clause[] = [];
  const combinators = new Set<'AND' | 'OR'>();
  scanner.skipSpace();
  while (!scanner.done()) {
    if (clauses.length > 0) {
      const keyword = scanner.keyword();
      if (keyword) combinators.add(keyword);
    }
    clauses.push(parseClause(scanner, resource, fieldTypes));
    scanner.skipSpace();
  }
  if (clauses.length === 0) throw queryError('the query is empty');
  if (clauses.length > MAX_CLAUSES) throw queryError(`at most ${MAX_CLAUSES} clauses are allowed`);
  if (combinators.size > 1) throw queryError('a query cannot combine AND and OR');
  return { combinator: combinators.has('OR') ? 'OR' : 'AND', clauses };
}

function parseClause(scanner: Scanner, resource: string, fieldTypes: FieldTypes): Clause {
  const negated = scanner.consume('-');
  const field = scanner.identifier();
  if (!field) throw queryError(`expected a field name at position ${scanner.position}`);
  let metadataKey: string | undefined;
  if (field === 'metadata') {
    if (!scanner.consume('[')) throw queryError("metadata must be followed by ['key']");
    metadataKey = scanner.quoted();
    if (!scanner.consume(']')) throw queryError("metadata must be followed by ['key']");
  } else if (!fieldTypes[field]) {
    throw invalidRequest(
      `Field \`${field}\` is an unsupported search field for resource \`${resource}\`. See https://stripe.com/docs/search#query-fields-for-${resource.replace(/_/g, '-')} for a list of supported fields.`,
      { param: 'query' },
    );
  }
  const operator = scanner.operator();
  const value = scanner.literal();
  const type = metadataKey === undefined ? fieldTypes[field] : 'string';
  if (operator !== ':' && (type !== 'number' || typeof value !== 'number')) {
    throw queryError(`\`${operator}\` needs a numeric field and a number`);
  }
  const clause: Clause = { negated, field, operator, value };
  if (metadataKey !== undefined) clause.metadataKey = metadataKey;
  return clause;
}

export function matchesQuery(query: SearchQuery, document: SearchDocument): boolean {
  const results = query.clauses.map((clause) => matchesClause(clause, document) !== clause.negated);
  return query.combinator === 'AND' ? results.every(Boolean) : results.some(Boolean);
}

function matchesClause(clause: Clause, document: SearchDocument): boolean {
  const actual =
    clause.metadataKey === undefined ? document.fields[clause.field] : document.metadata[clause.metadataKey];
  const expected = clause.value;
  if (expected === null || actual === undefined || actual === null) return expected === null && actual == null;
  if (typeof actual === 'number' && typeof expected === 'number') return compare(actual, clause.operator, expected);
  return String(actual).toLowerCase() === String(expected).toLowerCase();
}

function compare(actual: number, operator: Operator, expected: number): boolean {
  switch (operator) {
    case ':':
      return actual === expected;
    case '>':
      return actual > expected;
    case '<':
      return actual < expected;
    case '>=':
      return actual >= expected;
    case '<=':
      return actual <= expected;
  }
}

class Scanner {
  position = 0;

  constructor(private readonly text: string) {}

  done(): boolean {
    return this.position >= this.text.length;
  }

  skipSpace(): void {
    while (!this.done() && /\s/.test(this.text[this.position] ?? '')) this.position++;
  }

  consume(token: string): boolean {
    if (!this.text.startsWith(token, this.position)) return false;
    this.position += token.length;
    return true;
  }

  keyword(): 'AND' | 'OR' | undefined {
    const match = /^(AND|OR)\s+/i.exec(this.text.slice(this.position));
    if (!match) return undefined;
    this.position += match[0].length;
    return (match[1] ?? '').toUpperCase() as 'AND' | 'OR';
  }

  identifier(): string {
    const match = /^[a-z_][a-z0-9_.]*/i.exec(this.text.slice(this.position));
    if (!match) return '';
    this.position += match[0].length;
    return match[0];
  }

  operator(): Operator {
    for (const operator of ['>=', '<=', ':', '>', '<'] as const) {
      if (this.consume(operator)) return operator;
    }
    throw queryError(`expected one of : > < >= <= at position ${this.position}`);
  }

  literal(): Literal {
    const quote = this.text[this.position];
    if (quote === "'" || quote === '"') return this.quoted();
    const match = /^(null\b|-?\d+(\.\d+)?)/.exec(this.text.slice(this.position));
    if (!match) throw queryError(`expected a quoted value or a number at position ${this.position}`);
    this.position += match[0].length;
    return match[0] === 'null' ? null : Number(match[0]);
  }

  quoted(): string {
    const quote = this.text[this.position];
    if (quote !== "'" && quote !== '"') throw queryError(`expected a quoted string at position ${this.position}`);
    let value = '';
    for (let i = this.position + 1; i < this.text.length; i++) {
      const char = this.text[i];
      if (char === '\\' && i + 1 < this.text.length) {
        value += this.text[++i];
      } else if (char === quote) {
        this.position = i + 1;
        return value;
      } else {
        value += char;
      }
    }
    throw queryError('unterminated quoted string');
  }
}
