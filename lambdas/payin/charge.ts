import '../../src/payin/with-psp';
import { publishPaymentFailed } from '../../src/core/metrics';
import { stepHandler } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { charge } from '../../src/payin/steps';

export const handler = stepHandler('Charge', async ({ payment_id }) => {
  const result = await charge(stepDeps(), payment_id);
  // A declined charge ends the payment FAILED (never throws).
  if (result.outcome === 'DECLINED') publishPaymentFailed({ payment_id, reason: 'declined', status: 'FAILED' });
  return result;
});
