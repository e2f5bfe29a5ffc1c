import { z } from 'zod';
import { stepDeps } from '../../src/adapters/deps';
import { stepHandler } from '../../src/payin/step-handler';
import { recordFailure } from '../../src/payin/steps';

const failure = z.object({
  stage: z.enum(['charge', 'booking']),
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
});

export const handler = stepHandler('RecordFailure', (input, raw) => {
  const { stage, error } = failure.parse(raw);
  return recordFailure(stepDeps(), input.payment_id, stage, error);
});
