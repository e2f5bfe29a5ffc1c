import { stepHandler } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { creditWallet } from '../../src/payin/steps';

export const handler = stepHandler('CreditWallet', ({ payment_id, payment_order_id }) =>
  creditWallet(stepDeps(), payment_id, payment_order_id ?? ''),
);
