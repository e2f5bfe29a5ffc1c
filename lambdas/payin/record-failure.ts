import { z } from 'zod';
import { stepHandler } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { recordFailure } from '../../src/payin/steps';

const failure = z.object({
  stage: z.enum(['charge', 'booking']),
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
});

export const handler = stepHandler('RecordFailure', (input, raw) => {
  const { stage, error } = failure.parse(raw);
  return recordFailure(stepDeps(), input.payment_id, stage, error);
});
