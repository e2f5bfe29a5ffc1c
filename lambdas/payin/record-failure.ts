import * as z from 'zod/mini';
import { parseStepInput, stepHandler } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { recordFailure } from '../../src/payin/steps';

const failure = z.object({
  stage: z.enum(['charge', 'booking']),
  error: z.optional(z.object({ Error: z.optional(z.string()), Cause: z.optional(z.string()) })),
});

export const handler = stepHandler('RecordFailure', async (input, raw) => {
  const { stage, error } = parseStepInput('RecordFailure', failure, raw);
  // The workflow gives up here, but the payment has not failed: UNKNOWN (the janitor settles it from the PSP) or
  // charged and not yet booked (the janitor re-drives it). A payment that fails is counted where it moves to FAILED.
  return recordFailure(stepDeps(), input.payment_id, stage, error);
});
