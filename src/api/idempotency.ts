/**
 * Client idempotency of POST /v1/payments/{id}/refunds and POST /v1/payouts with Powertools (POST /v1/payments keeps
 * its own: the payment is the record, src/payin/create-payment.ts): `makeIdempotent` around the side effect (not the middy
 * middleware of Powertools <= 2.35, which deletes records it never acquired), keyed by the caller's API key id and
 * its Idempotency-Key header, with the whole body (so amounts and currency) validated on every replay.
 */

import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { HttpError } from './http';

export { idempotencyKeyHeader } from './idempotency-key';

/** Keys are kept two days: at least the 24 hours clients are promised. */
export const IDEMPOTENCY_TTL_SECONDS = 48 * 3600;

export interface StoredResponse {
  statusCode: number;
  body: unknown;
  replayed?: boolean;
}

export interface IdempotentRequest {
  /** `<api key id>:<Idempotency-Key header>` */
  idempotency_key: string;
  body: unknown;
}

/**
 * Wraps `sideEffect` so that it runs once per idempotency key: a repeat with the same body gets the stored
 * response, a repeat with another body 422, a repeat while the first still runs 409 with Retry-After.
 * Errors thrown by `sideEffect` are not stored (the record is deleted), so a retry runs it again; the side
 * effect must therefore be safe to repeat on its own (ours is: deterministic payment id, conditional writes).
 */
export function idempotent<T extends IdempotentRequest>(
  client: DynamoDBClient,
  tableName: string,
  sideEffect: (request: T) => Promise<StoredResponse>,
) {
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'idempotency_key',
    payloadValidationJmesPath: 'body',
    expiresAfterSeconds: IDEMPOTENCY_TTL_SECONDS,
    throwOnNoIdempotencyKey: true,
    responseHook: (response) => ({ ...(response as object), replayed: true }),
  });
  const persistenceStore = new DynamoDBPersistenceLayer({ tableName, awsSdkV3Client: client });
  const run = makeIdempotent(sideEffect, { persistenceStore, config });
  return async (request: T, context: Context): Promise<StoredResponse> => {
    config.registerLambdaContext(context);
    try {
      return (await run(request)) as StoredResponse;
    } catch (error) {
      if (error instanceof IdempotencyValidationError) {
        throw new HttpError(
          422,
          'idempotency_key_reused',
          'this Idempotency-Key was already used with other parameters; use a new key for a different request',
        );
      }
      if (error instanceof IdempotencyAlreadyInProgressError) {
        throw new HttpError(
          409,
          'request_in_progress',
          'a request with this Idempotency-Key is still being processed; retry after a moment',
          {},
          { 'retry-after': '1' },
        );
      }
      throw error;
    }
  };
}
