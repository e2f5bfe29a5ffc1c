/**
 * The adapter between a Step Functions Task and a pay-in step: validates the task input, sets the payment id
 * as the log correlation id, and turns transient AWS failures into TransientError so `Retry` can match them.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { asRetryable } from './errors';
import { logger } from './observability';

export const stepInput = z.object({
  payment_id: z.string().min(1),
  payment_order_id: z.string().min(1).optional(),
});
export type StepInput = z.infer<typeof stepInput>;

export function stepHandler<R>(name: string, fn: (input: StepInput, raw: unknown) => Promise<R>) {
  return middy<unknown, R, Error, Context>(async (raw: unknown) => {
    const input = stepInput.parse(raw);
    logger.appendKeys({ payment_id: input.payment_id, payment_order_id: input.payment_order_id, step: name });
    try {
      const result = await fn(input, raw);
      logger.info(`${name} done`, { result: result as Record<string, unknown> });
      return result;
    } catch (error) {
      const thrown = asRetryable(error);
      logger.error(`${name} failed`, { error: thrown as Error });
      throw thrown;
    }
  }).use(injectLambdaContext(logger, { resetKeys: true }));
}
