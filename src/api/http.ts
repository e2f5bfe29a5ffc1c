/** HTTP responses and errors of the API: JSON bodies, errors that say what was wrong and what to do. */
import type { APIGatewayProxyResult } from 'aws-lambda';

/** One problem of a request, naming what it concerns. */
export interface FieldError {
  /** The body field (`payment_orders[0].amount`, `(body)` for the whole body), path parameter or header. */
  field: string;
  message: string;
  /** Set when the problem is a request header: its name (also given as `field`). */
  header?: string;
}

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details: { errors?: FieldError[]; [key: string]: unknown } = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string, errors: FieldError[] = []) =>
  new HttpError(400, 'invalid_request', message, errors.length > 0 ? { errors } : {});

/** A problem with a request header: the error names the header (as `header` and as `field`). */
export const invalidHeader = (
  header: string,
  message: string,
  {
    status = 400,
    code = 'invalid_request',
    detail = message,
  }: { status?: number; code?: string; detail?: string } = {},
) => new HttpError(status, code, message, { errors: [{ field: header, header, message: detail }] });

/** The largest request body of any route (API Gateway's own limit is 10 MB); a route may set a lower one. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** The deepest nesting of objects and arrays in a JSON body (`{}` is depth 1). */
export const MAX_JSON_DEPTH = 32;

export interface BodyLimits {
  maxBytes?: number;
  maxDepth?: number;
}

export const bodyTooLarge = (maxBytes: number) =>
  new HttpError(413, 'body_too_large', `the request body must be at most ${maxBytes} bytes`, {
    errors: [{ field: '(body)', message: `must be at most ${maxBytes} bytes` }],
  });

export const bodyTooDeep = (maxDepth: number) =>
  badRequest(`the request body nests objects and arrays deeper than ${maxDepth} levels`, [
    { field: '(body)', message: `must not nest objects and arrays deeper than ${maxDepth} levels` },
  ]);

/** The size of a request body in bytes, as sent (a base64-encoded body counts decoded). */
export function bodyBytes(body: string, isBase64Encoded = false): number {
  return Buffer.byteLength(body, isBase64Encoded ? 'base64' : 'utf8');
}

/**
 * True when the JSON text nests objects and arrays deeper than `maxDepth`. One pass over the characters, no recursion
 * and no parsing, so that it can run before JSON.parse on any input; it counts brackets outside strings, which is the
 * depth of valid JSON (invalid JSON is refused by the parser anyway).
 */
export function jsonTooDeep(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > maxDepth) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

export function errorResponse(error: HttpError): APIGatewayProxyResult {
  return json(
    error.statusCode,
    { error: { code: error.code, message: error.message, ...error.details } },
    error.headers,
  );
}

const NOT_AN_OBJECT = 'the request body must be a JSON object';

/**
 * Parses a JSON request body: over `maxBytes` (1 MB by default) is a 413; nested deeper than `maxDepth` (32) or not
 * a JSON object is a 400 naming `(body)`. The depth is checked before parsing, without recursion.
 */
export function parseJsonBody(
  body: string | null,
  isBase64Encoded = false,
  { maxBytes = MAX_BODY_BYTES, maxDepth = MAX_JSON_DEPTH }: BodyLimits = {},
): Record<string, unknown> {
  if (!body) throw badRequest(NOT_AN_OBJECT, [{ field: '(body)', message: 'is required' }]);
  if (bodyBytes(body, isBase64Encoded) > maxBytes) throw bodyTooLarge(maxBytes);
  const text = isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
  if (jsonTooDeep(text, maxDepth)) throw bodyTooDeep(maxDepth);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest(NOT_AN_OBJECT, [{ field: '(body)', message: 'is not valid JSON' }]);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest(NOT_AN_OBJECT, [{ field: '(body)', message: 'must be a JSON object' }]);
  }
  return value as Record<string, unknown>;
}
