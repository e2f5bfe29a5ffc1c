/** middy plumbing shared by the API handlers: logging context and errors turned into JSON responses. */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { NotFoundError } from '../core/errors';
import { logger } from '../core/observability';
import {
  DuplicateCheckoutError,
  DuplicateOrderError,
  InvalidCheckoutError,
  PaymentIdTakenError,
} from '../payin/errors';
import { badRequest, errorResponse, HttpError } from './http';

type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

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
  if (error instanceof PaymentIdTakenError) {
    return new HttpError(422, 'idempotency_key_reused', 'this Idempotency-Key was already used for another checkout');
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

export function apiHandler(fn: ApiHandler) {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>(fn)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(httpErrors());
}
