/** The input of a reconciliation step: the run, and for a shard its number; FailRun gets the caught error. */
import * as z from 'zod/mini';
import { text } from '../../src/core/step-handler';

export const runInput = z.object({ run_id: text() });
export const shardInput = z.object({ run_id: text(), shard: z.int().check(z.gte(0), z.lte(1023)) });
export const failInput = z.object({
  run_id: text(),
  error: z.optional(z.object({ Error: z.optional(z.string()), Cause: z.optional(z.string()) })),
});
