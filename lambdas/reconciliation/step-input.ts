/** The input of a reconciliation step: the run, and for a shard its number; FailRun gets the caught error. */
import * as z from 'zod';

export const runInput = z.object({ run_id: z.string().min(1) });
export const shardInput = z.object({ run_id: z.string().min(1), shard: z.number().int().min(0).max(1023) });
export const failInput = z.object({
  run_id: z.string().min(1),
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
});
