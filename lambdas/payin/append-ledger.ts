import { stepHandler } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { appendLedger } from '../../src/payin/steps';

export const handler = stepHandler('AppendLedger', ({ payment_id, payment_order_id }) =>
  appendLedger(stepDeps(), payment_id, payment_order_id ?? ''),
);
