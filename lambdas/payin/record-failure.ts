import * as z from 'zod';
import { publishPaymentFailed } from '../../src/core/metrics';
import { stepHandler } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { recordFailure } from '../../src/payin/steps';

const failure = z.object({
  stage: z.enum(['charge', 'booking']),
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
});

export const handler = stepHandler('RecordFailure', async (input, raw) => {
  const { stage, error } = failure.parse(raw);
  const result = await recordFailure(stepDeps(), input.payment_id, stage, error);
  // The workflow gives up here (its execution fails next): PaymentsFailed, unless the payment is SUCCESS after all.
  // Never throws. Declines and risk rejections end the workflow elsewhere (its Succeed states) and are not counted.
  if (result.status !== 'SUCCESS') {
    publishPaymentFailed({ payment_id: input.payment_id, reason: stage, status: result.status });
  }
  return result;
});
