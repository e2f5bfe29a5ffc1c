import { publishPaymentFailed } from '../../src/core/metrics';
import { stepHandler } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { riskCheck } from '../../src/payin/steps';

export const handler = stepHandler('RiskCheck', async ({ payment_id }) => {
  const result = await riskCheck(stepDeps(), payment_id);
  // A payment the risk rules reject ends FAILED (never throws).
  if (result.decision === 'REJECT') publishPaymentFailed({ payment_id, reason: 'risk_rejected', status: 'FAILED' });
  return result;
});
