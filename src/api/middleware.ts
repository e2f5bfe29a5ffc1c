/** middy plumbing shared by the API handlers: logging context and errors turned into JSON responses. */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { NotFoundError, PspTransientError, TransientError } from '../core/errors';
import { fromMinorUnits } from '../core/money';
import { logger } from '../core/observability';
import { withTimeline } from '../core/timeline';
import {
  CheckoutInProgressError,
  DuplicateCheckoutError,
  DuplicateOrderError,
  InvalidCheckoutError,
  PaymentIdTakenError,
} from '../payin/errors';
import {
  AmountAboveAvailableError,
  PayoutIdTakenError,
  PayoutsDisabledError,
  RunInProgressError,
} from '../payout/errors';
import { SellerConflictError } from '../payout/sellers';
import {
  InvalidRunInputError,
  MismatchNotOpenError,
  RunInProgressError as ReconciliationRunInProgressError,
  RunNotFoundError,
} from '../reconciliation/errors';
import {
  AmountAboveRefundableError,
  RefundConflictError,
  RefundIdTakenError,
  RefundNotAllowedError,
} from '../refunds/errors';
import { hasScope, isScope, type Scope, scopesFromContext } from './api-keys';
import { badRequest, errorResponse, HttpError } from './http';
import { strictRequest } from './request-guards';

type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** The id of the API key that made the request (the authorizer's context, or its principal id). */
export function callerKeyId(event: APIGatewayProxyEvent): string {
  const authorizer = event.requestContext?.authorizer;
  return String(authorizer?.keyId ?? authorizer?.principalId ?? '');
}

/** The 403 of a key that lacks the scope a route needs. */
export const insufficientScope = (scope: Scope) =>
  new HttpError(403, 'insufficient_scope', `this key lacks the scope ${scope}`, { scope });

/**
 * Refuses (403 `insufficient_scope`, naming the scope) a request whose key lacks `scope`: the authorizer allows
 * every route to a valid key (so API Gateway's cache of its answer serves them all) and passes the key's scopes in
 * its context; each handler checks the one its route needs (lambdas/catalog.ts, `apiRoutes`).
 */
export function requireScope(scope: Scope): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    before: async (request) => {
      const granted = scopesFromContext(request.event.requestContext?.authorizer?.scopes);
      if (hasScope(granted, scope)) return;
      logger.warn('refused API request: the key lacks the scope', { key_id: callerKeyId(request.event), scope });
      throw insufficientScope(scope);
    },
  };
}

/** The HTTP answer to a named domain error of a flow (a use case never throws HTTP errors itself). */
export function fromDomainError(error: unknown): HttpError | undefined {
  if (error instanceof InvalidCheckoutError) return badRequest(error.message, error.problems);
  if (error instanceof NotFoundError) return new HttpError(404, 'not_found', error.message);
  if (error instanceof DuplicateCheckoutError) {
    return new HttpError(409, 'checkout_already_accepted', error.message, { payment_id: error.existingPaymentId });
  }
  if (error instanceof DuplicateOrderError) {
    return new HttpError(409, 'payment_order_already_exists', error.message, {
      payment_order_ids: error.paymentOrderIds,
    });
  }
  if (error instanceof PayoutsDisabledError) {
    return new HttpError(409, 'payouts_disabled', error.message, { reason: error.reason });
  }
  if (error instanceof AmountAboveAvailableError) {
    const available = fromMinorUnits(error.availableMinor, error.currency);
    return new HttpError(
      422,
      'amount_above_available',
      `the amount is more than the available ${available} ${error.currency}`,
      {
        available,
        currency: error.currency,
        errors: [
          { field: 'amount', message: `amount must be at most the available balance, ${available} ${error.currency}` },
        ],
      },
    );
  }
  if (error instanceof PayoutIdTakenError) {
    return new HttpError(422, 'idempotency_key_reused', 'this Idempotency-Key was already used for another payout');
  }
  if (error instanceof RunInProgressError) return new HttpError(409, 'payout_run_in_progress', error.message);
  if (error instanceof SellerConflictError) {
    return new HttpError(409, 'seller_conflict', error.message, {
      errors: [{ field: error.field, message: error.message }],
    });
  }
  // A dependency that failed for a moment (DynamoDB throttling, the PSP unreachable): nothing was decided, retry.
  if (error instanceof TransientError || error instanceof PspTransientError) {
    return new HttpError(
      503,
      'temporarily_unavailable',
      'a service this request needs is unavailable for a moment; retry the request with the same key',
      {},
      { 'retry-after': '1' },
    );
  }
  if (error instanceof RefundNotAllowedError) return new HttpError(409, 'refund_not_allowed', error.message);
  if (error instanceof RefundConflictError) return new HttpError(409, 'refund_conflict', error.message);
  if (error instanceof RefundIdTakenError) {
    return new HttpError(422, 'idempotency_key_reused', 'this Idempotency-Key was already used for another refund');
  }
  if (error instanceof AmountAboveRefundableError) {
    const refundable = fromMinorUnits(error.refundableMinor, error.currency);
    return new HttpError(
      422,
      'amount_above_refundable',
      `the amount is more than the refundable ${refundable} ${error.currency}`,
      {
        refundable,
        currency: error.currency,
        errors: [
          { field: 'amount', message: `amount must be at most the refundable amount, ${refundable} ${error.currency}` },
        ],
      },
    );
  }
  if (error instanceof InvalidRunInputError) {
    const problem = error.message.startsWith(`${error.field}: `)
      ? error.message.slice(error.field.length + 2)
      : error.message;
    return badRequest(`${error.field} is not valid`, [{ field: error.field, message: `${error.field} ${problem}` }]);
  }
  if (error instanceof ReconciliationRunInProgressError) {
    return new HttpError(409, 'run_in_progress', error.message, { run_id: error.runningRunId, date: error.date });
  }
  if (error instanceof RunNotFoundError) return new HttpError(404, 'not_found', error.message);
  if (error instanceof MismatchNotOpenError) {
    return new HttpError(409, 'mismatch_not_open', error.message, {
      mismatch_id: error.mismatchId,
      status: error.status,
    });
  }
  if (error instanceof PaymentIdTakenError) {
    return new HttpError(
      422,
      'idempotency_key_reused',
      'this Idempotency-Key was already used with other parameters; use a new key for a different request',
    );
  }
  if (error instanceof CheckoutInProgressError) {
    return new HttpError(
      409,
      'request_in_progress',
      'a request with this Idempotency-Key is still being processed; retry after a moment',
      {},
      { 'retry-after': '1' },
    );
  }
  return undefined;
}

/** Known errors become their response; anything else is logged and answered with a 500 that leaks nothing. */
export function httpErrors(): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    onError: async (request) => {
      const { error } = request;
      const mapped = error instanceof HttpError ? error : fromDomainError(error);
      if (mapped) {
        if (mapped.statusCode >= 500) logger.error('request failed', { error });
        request.response = errorResponse(mapped);
        return;
      }
      logger.error('unexpected error', { error });
      request.response = errorResponse(
        new HttpError(500, 'internal_error', 'an internal error occurred; retry the request with the same key later'),
      );
    },
  };
}

/** The scope of a route without an API key (the PSP webhook: the PSP signs its calls), said so explicitly. */
export const PUBLIC_ROUTE = 'public';

export interface ApiHandlerOptions {
  /**
   * The scope the route needs (lambdas/catalog.ts), or `'public'` for a route without an API key (the PSP webhook).
   * Required, so that a new handler cannot leave it out and check nothing.
   */
  scope: Scope | typeof PUBLIC_ROUTE;
  /** The largest body the route takes (default 1 MB): 413 above it. */
  maxBodyBytes?: number;
}

/**
 * The middy chain of every API handler: logging context, errors as JSON responses, the route's scope (403, before
 * anything about the body is said; none for a public route), then strict input (Content-Type, size, depth, path
 * parameters).
 */
export function apiHandler(fn: ApiHandler, options: ApiHandlerOptions) {
  // Also refused at run time (a handler built from untyped options fails at its cold start, not silently open).
  const scope = (options as Partial<ApiHandlerOptions> | undefined)?.scope;
  if (scope === undefined || (scope !== PUBLIC_ROUTE && !isScope(scope))) {
    throw new Error(`apiHandler: options.scope must be a scope or '${PUBLIC_ROUTE}' (got ${String(scope)})`);
  }
  // What a request does to a payment is on the payment's timeline as coming from the API.
  const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>((event: APIGatewayProxyEvent, context: Context) =>
    withTimeline({ source: 'api' }, () => fn(event, context)),
  )
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(httpErrors());
  if (scope !== PUBLIC_ROUTE) handler.use(requireScope(scope));
  return handler.use(strictRequest({ maxBodyBytes: options.maxBodyBytes }));
}
