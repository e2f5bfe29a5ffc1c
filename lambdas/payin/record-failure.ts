import * as z from 'zod';
import { stepHandler } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { recordFailure } from '../../src/payin/steps';

const failure = z.object({
  stage: z.enum(['charge', 'booking']),
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
});

export const handler = stepHandler('RecordFailure', async (input, raw) => {
  const { stage, error } = failure.parse(raw);
  // The workflow gives up here, but the payment has not failed: UNKNOWN (the janitor settles it from the PSP) or
  // charged and not yet booked (the janitor re-drives it). A payment that fails is counted where it moves to FAILED.
  return recordFailure(stepDeps(), input.payment_id, stage, error);
});
