/** Pay-in step at the pending deadline: stops the payment at the PSP; FAILED, or SUCCEEDED if it was paid meanwhile. */

import '../../src/payin/with-psp';
import { publishPaymentFailed } from '../../src/core/metrics';
import { stepHandler } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { cancelPending } from '../../src/payin/pending';

export const handler = stepHandler('CancelPending', async ({ payment_id }) => {
  const result = await cancelPending(stepDeps(), payment_id);
  // Stopped at its deadline, or declined meanwhile: the payment ends FAILED (never throws).
  if (result.outcome === 'FAILED')
    publishPaymentFailed({ payment_id, reason: result.reason ?? 'failed', status: 'FAILED' });
  return result;
});
