import { publishPaymentSucceeded } from '../../src/core/metrics';
import { stepHandler } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { finalize } from '../../src/payin/steps';

/**
 * What Finalize answers: the status and, when the step reports them, whether this call moved the payment to SUCCESS
 * (`false` on a retry after it did: not counted twice), the payment's currency and its total in minor units.
 */
interface Finalized {
  status: string;
  finalized?: boolean;
  currency?: string;
  total_minor?: number;
}

export const handler = stepHandler('Finalize', async ({ payment_id }) => {
  const result: Finalized = await finalize(stepDeps(), payment_id);
  // The pay-in's successful end: PaymentsSucceeded and the amount per currency (never throws).
  if (result.status === 'SUCCESS' && result.finalized !== false) {
    publishPaymentSucceeded({ payment_id, currency: result.currency, total_minor: result.total_minor });
  }
  return result;
});
