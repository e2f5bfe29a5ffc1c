import { stepDeps } from '../../src/adapters/deps';
import { stepHandler } from '../../src/payin/step-handler';
import { appendLedger } from '../../src/payin/steps';

export const handler = stepHandler('AppendLedger', ({ payment_id, payment_order_id }) =>
  appendLedger(stepDeps(), payment_id, payment_order_id ?? ''),
);
