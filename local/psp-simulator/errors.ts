// Stripe's v1 error envelope: `{ "error": { type, code?, message, param?, doc_url?, ... } }`, `type` being one of
// the four documented types (api_error, card_error, idempotency_error, invalid_request_error).
// The SDK picks its error class from the HTTP status (400/404 -> StripeInvalidRequestError, or
// StripeIdempotencyError when type is idempotency_error; 401 -> StripeAuthenticationError; 402 -> StripeCardError;
// 429 -> StripeRateLimitError; 500 -> StripeAPIError).

export type StripeErrorType = 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error';

export interface StripeErrorBody {
  type: StripeErrorType;
  message: string;
  code?: string;
  decline_code?: string;
  param?: string;
  doc_url?: string;
  [extra: string]: unknown;
}

export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
  ) {
    super(body.message);
  }
}

export function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
}

interface InvalidRequestDetails {
  param?: string;
  code?: string;
  status?: number;
  extra?: Record<string, unknown>;
}

export function invalidRequest(message: string, details: InvalidRequestDetails = {}): StripeApiError {
  const body: StripeErrorBody = { type: 'invalid_request_error', message };
  if (details.code) {
    body.code = details.code;
    body.doc_url = docUrl(details.code);
  }
  if (details.param) body.param = details.param;
  Object.assign(body, details.extra);
  return new StripeApiError(details.status ?? 400, body);
}

export function resourceMissing(kind: string, id: string, param: string, status = 404): StripeApiError {
  return invalidRequest(`No such ${kind}: '${id}'`, { code: 'resource_missing', param, status });
}

export function unrecognizedUrl(method: string, path: string): StripeApiError {
  return invalidRequest(
    `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
    { status: 404 },
  );
}

export function internalError(): StripeApiError {
  return new StripeApiError(500, { type: 'api_error', message: 'An unknown error occurred in the PSP simulator.' });
}

/** An injected PSP-side failure (error500 / charged500, see faults.ts): Stripe's 500 body, type api_error. */
export function unknownError(): StripeApiError {
  return new StripeApiError(500, { type: 'api_error', message: 'An unknown error occurred' });
}

/**
 * An injected rate limit: HTTP 429 with `type: invalid_request_error` and `code: rate_limit` (rate_limit_error is
 * not a Stripe error type); the SDK raises StripeRateLimitError from the status.
 */
export function rateLimited(): StripeApiError {
  return new StripeApiError(429, {
    type: 'invalid_request_error',
    code: 'rate_limit',
    doc_url: docUrl('rate_limit'),
    message: 'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.',
  });
}

/** The envelope as sent, with the dashboard log link Stripe adds to errors of authenticated requests. */
export function errorEnvelope(error: StripeApiError, requestId: string, createdSeconds: number): unknown {
  if (error.status === 401) return { error: error.body };
  return {
    error: {
      ...error.body,
      request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}?t=${createdSeconds}`,
    },
  };
}

const EDGE_REASONS: Record<502 | 503, string> = { 502: 'Bad Gateway', 503: 'Service Temporarily Unavailable' };

/**
 * What a load balancer in front of the API answers (edge502 / edge503 faults): an HTML page, not Stripe's JSON
 * envelope, and none of the API's headers. The SDK cannot parse it and raises a StripeAPIError
 * ("Invalid JSON received from the Stripe API") without a status code.
 */
export function edgeErrorPage(status: 502 | 503): { status: number; body: string; contentType: string } {
  const title = `${status} ${EDGE_REASONS[status]}`;
  return {
    status,
    body: `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`,
    contentType: 'text/html',
  };
}
