/**
 * The adapter between a Step Functions Task and a pay-in step: validates the task input, sets the payment id
 * as the log correlation id, and turns transient AWS failures into TransientError so `Retry` can match them.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { asRetryable, InvalidStepInputError } from './errors';
import { logger } from './observability';
import { withTimeline } from './timeline';

/** A non-empty string (zod/mini: a Task's input is checked with a few kilobytes of zod, not its whole API). */
export const text = () => z.string().check(z.minLength(1));

export const stepInput = z.object({
  payment_id: text(),
  payment_order_id: z.optional(text()),
});
export type StepInput = z.infer<typeof stepInput>;

export function stepHandler<R>(name: string, fn: (input: StepInput, raw: unknown) => Promise<R>) {
  return taskHandler(name, stepInput, fn);
}

/** The input of a pay-out step. */
export const payoutStepInput = z.object({ payout_id: text(), task_token: z.optional(text()) });
export type PayoutStepInput = z.infer<typeof payoutStepInput>;

/** A Task's input checked against its schema; InvalidStepInputError naming every field at fault otherwise. */
export function parseStepInput<I>(name: string, schema: z.ZodMiniType<I>, raw: unknown): I {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`);
  throw new InvalidStepInputError(`${name}: the task input is not valid: ${problems.join('; ')}`);
}

/** The adapter of any workflow's Task: its input schema's fields become the log's correlation keys. */
export function taskHandler<I extends Record<string, unknown>, R>(
  name: string,
  schema: z.ZodMiniType<I>,
  fn: (input: I, raw: unknown) => Promise<R>,
) {
  return middy<unknown, R, Error, Context>(async (raw: unknown) => {
    try {
      const input = parseStepInput(name, schema, raw);
      const { task_token: _token, ...keys } = input as Record<string, unknown>;
      logger.appendKeys({ ...keys, step: name });
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
