/**
 * The adapter between a Step Functions Task and a pay-in step: validates the task input, sets the payment id
 * as the log correlation id, and turns transient AWS failures into TransientError so `Retry` can match them.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { asRetryable } from './errors';
import { logger } from './observability';
import { withTimeline } from './timeline';

export const stepInput = z.object({
  payment_id: z.string().min(1),
  payment_order_id: z.string().min(1).optional(),
});
export type StepInput = z.infer<typeof stepInput>;

export function stepHandler<R>(name: string, fn: (input: StepInput, raw: unknown) => Promise<R>) {
  return taskHandler(name, stepInput, fn);
}

/** The input of a pay-out step. */
export const payoutStepInput = z.object({ payout_id: z.string().min(1), task_token: z.string().min(1).optional() });
export type PayoutStepInput = z.infer<typeof payoutStepInput>;

/** The adapter of any workflow's Task: its input schema's fields become the log's correlation keys. */
export function taskHandler<I extends Record<string, unknown>, R>(
  name: string,
  schema: z.ZodType<I>,
  fn: (input: I, raw: unknown) => Promise<R>,
) {
  return middy<unknown, R, Error, Context>(async (raw: unknown) => {
    const input = schema.parse(raw);
    const { task_token: _token, ...keys } = input as Record<string, unknown>;
    logger.appendKeys({ ...keys, step: name });
    try {
      const result = await withTimeline({ source: 'workflow' }, () => fn(input, raw));
      logger.info(`${name} done`, { result: result as Record<string, unknown> });
      return result;
    } catch (error) {
      const thrown = asRetryable(error);
      logger.error(`${name} failed`, { error: thrown as Error });
      throw thrown;
    }
  }).use(injectLambdaContext(logger, { resetKeys: true }));
}
