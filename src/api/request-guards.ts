/**
 * What every API request must be before a handler reads it: path parameters of the identifier set, a JSON body
 * (`Content-Type: application/json`) of bounded size and depth. `strictRequest` checks all of it as a middy
 * middleware (src/api/middleware.ts, `apiHandler`); `pathParam` reads one checked path parameter in a handler.
 * Every refusal is a 4xx naming the path parameter, header or `(body)`; messages quote at most a short, escaped
 * piece of what was sent (`quote`).
 */
import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { containsCardNumber } from './card-data';
import {
  badRequest,
  bodyBytes,
  bodyTooDeep,
  bodyTooLarge,
  invalidHeader,
  jsonTooDeep,
  MAX_BODY_BYTES,
  MAX_JSON_DEPTH,
} from './http';
import { IDENTIFIER_PATTERN } from './identifiers';

/** The longest identifier in a path (body identifiers allow 128: src/api/schemas.ts). */
export const MAX_PATH_ID_LENGTH = 255;
/** How much of a value an error message quotes. */
export const QUOTE_LENGTH = 32;

/** C0 and C1 controls, DEL, line and paragraph separators, bidirectional and zero-width format characters. */
function unsafe(codePoint: number): boolean {
  return (
    codePoint < 0x20 ||
    (codePoint >= 0x7f && codePoint <= 0x9f) ||
    (codePoint >= 0x200b && codePoint <= 0x200f) ||
    (codePoint >= 0x2028 && codePoint <= 0x202e) ||
    (codePoint >= 0x2060 && codePoint <= 0x2069) ||
    codePoint === 0xfeff
  );
}

/**
 * A value as an error message may show it: in double quotes, at most `max` characters (then `…`), control and
 * invisible characters escaped (`\u000a`), quotes and backslashes escaped. A value holding a card number is not shown.
 */
export function quote(value: unknown, max = QUOTE_LENGTH): string {
  const text = typeof value === 'string' ? value : String(value);
  if (containsCardNumber(text)) return '"(not shown: looks like card data)"';
  const characters = Array.from(text.slice(0, 2 * max + 2));
  let out = '';
  for (const character of characters.slice(0, max)) {
    if (character === '"' || character === '\\') out += `\\${character}`;
    else {
      const codePoint = character.codePointAt(0) ?? 0;
      out += unsafe(codePoint) ? `\\u${codePoint.toString(16).padStart(4, '0')}` : character;
    }
  }
  return `"${out}${characters.length > max ? '…' : ''}"`;
}

/** Why a path parameter's value is not an identifier, or undefined when it is one. */
export function pathParamProblem(name: string, value: string | undefined | null): string | undefined {
  if (value === undefined || value === null || value === '') return `the path parameter ${name} is required`;
  if (value.length > MAX_PATH_ID_LENGTH || !IDENTIFIER_PATTERN.test(value)) {
    return (
      `the path parameter ${name} must be 1 to ${MAX_PATH_ID_LENGTH} letters, digits and _ . : -, starting with a ` +
      `letter or digit (got ${quote(value)})`
    );
  }
  return undefined;
}

const invalidPathParam = (name: string, message: string) =>
  badRequest(`the path parameter ${name} is not valid`, [{ field: name, message }]);

/** The path parameter `name`, checked: 1 to 255 characters of the identifier set; otherwise a 400 naming it. */
export function pathParam(event: Pick<APIGatewayProxyEvent, 'pathParameters'>, name: string): string {
  const value = event.pathParameters?.[name];
  const problem = pathParamProblem(name, value);
  if (problem !== undefined || value === undefined) throw invalidPathParam(name, problem ?? 'is required');
  return value;
}

/** Every path parameter of the request is an identifier (400 naming the first one that is not). */
export function checkPathParameters(event: Pick<APIGatewayProxyEvent, 'pathParameters'>): void {
  for (const [name, value] of Object.entries(event.pathParameters ?? {})) {
    const problem = pathParamProblem(name, value);
    if (problem !== undefined) throw invalidPathParam(name, problem);
  }
}

type Headers = Record<string, string | undefined> | null | undefined;
type MultiValueHeaders = Record<string, string[] | undefined> | null | undefined;

/** Every value of a header, whatever its case (API Gateway keeps the client's case). */
export function headerValues(headers: Headers, multiValueHeaders: MultiValueHeaders, name: string): string[] {
  const wanted = name.toLowerCase();
  const multi = Object.entries(multiValueHeaders ?? {}).filter(([key]) => key.toLowerCase() === wanted);
  if (multi.length > 0) return multi.flatMap(([, values]) => values ?? []);
  return Object.entries(headers ?? {})
    .filter(([key, value]) => key.toLowerCase() === wanted && value !== undefined)
    .map(([, value]) => value as string);
}

const MEDIA_TYPE = 'application/json';
const CHARSET = /^charset=(?:utf-8|"utf-8")$/i;

/** Why a Content-Type is not JSON in UTF-8, or undefined: `application/json`, with at most `; charset=utf-8`. */
export function contentTypeProblem(values: string[]): string | undefined {
  const expected = `must be ${MEDIA_TYPE} (optionally with charset=utf-8)`;
  if (values.length === 0) return `is required with a body: ${expected}`;
  if (values.length > 1) return `must be given once: ${expected}`;
  const [type = '', ...parameters] = (values[0] ?? '').split(';').map((part) => part.trim());
  if (type.toLowerCase() !== MEDIA_TYPE) return `${expected}, not ${quote(type)}`;
  if (parameters.length > 1 || !parameters.every((parameter) => CHARSET.test(parameter))) {
    return `${expected}, without other parameters (got ${quote(parameters.join('; '))})`;
  }
  return undefined;
}

export interface StrictRequestOptions {
  /** The largest body of the route, in bytes (1 MB by default); over it is a 413. */
  maxBodyBytes?: number;
  /** The deepest nesting of the JSON body (32 by default); deeper is a 400. */
  maxDepth?: number;
}

/**
 * Checks a request before its handler: path parameters (400 naming the parameter), then, when there is a body, its
 * size (413), its Content-Type (415 naming the header) and its depth (400 naming `(body)`). The body itself is not
 * parsed nor changed (the PSP webhook verifies its signature on the raw body).
 */
export function checkRequest(
  event: Pick<APIGatewayProxyEvent, 'pathParameters' | 'headers' | 'multiValueHeaders' | 'body' | 'isBase64Encoded'>,
  { maxBodyBytes = MAX_BODY_BYTES, maxDepth = MAX_JSON_DEPTH }: StrictRequestOptions = {},
): void {
  checkPathParameters(event);
  const { body } = event;
  if (body === null || body === undefined || body === '') return;
  const isBase64Encoded = event.isBase64Encoded === true;
  if (bodyBytes(body, isBase64Encoded) > maxBodyBytes) throw bodyTooLarge(maxBodyBytes);
  const problem = contentTypeProblem(headerValues(event.headers, event.multiValueHeaders, 'content-type'));
  if (problem !== undefined) {
    throw invalidHeader('Content-Type', `the request body must be ${MEDIA_TYPE}`, {
      status: 415,
      code: 'unsupported_media_type',
      detail: problem,
    });
  }
  const text = isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
  if (jsonTooDeep(text, maxDepth)) throw bodyTooDeep(maxDepth);
}

/**
 * The middy middleware of `checkRequest`: `.use(strictRequest())` in `apiHandler` (src/api/middleware.ts), after
 * `httpErrors()` so that its refusals become JSON responses; `strictRequest({ maxBodyBytes: 64 * 1024 })` for a
 * route with a lower limit.
 */
export function strictRequest(
  options: StrictRequestOptions = {},
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    before: async (request) => {
      checkRequest(request.event, options);
    },
  };
}
