/** HTTP responses and errors of the API: JSON bodies, errors that say what was wrong and what to do. */
import type { APIGatewayProxyResult } from 'aws-lambda';

export interface FieldError {
  field: string;
  message: string;
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

/** Parses a JSON request body; a body that is not a JSON object is a 400. */
export function parseJsonBody(body: string | null, isBase64Encoded = false): unknown {
  if (!body) throw badRequest('the request body must be a JSON object');
  const text = isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value;
  } catch {
    throw badRequest('the request body must be a JSON object');
  }
}
