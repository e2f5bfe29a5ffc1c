/** middy plumbing shared by the API handlers: logging context and errors turned into JSON responses. */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { logger } from '../core/observability';
import { errorResponse, HttpError } from './http';

type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** Known errors become their response; anything else is logged and answered with a 500 that leaks nothing. */
export function httpErrors(): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    onError: async (request) => {
      const { error } = request;
      if (error instanceof HttpError) {
        if (error.statusCode >= 500) logger.error('request failed', { error });
        request.response = errorResponse(error);
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
