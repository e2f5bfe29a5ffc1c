import { stepDeps } from '../../src/adapters/deps';
import { stepHandler } from '../../src/payin/step-handler';
import { creditWallet } from '../../src/payin/steps';

export const handler = stepHandler('CreditWallet', ({ payment_id, payment_order_id }) =>
  creditWallet(stepDeps(), payment_id, payment_order_id ?? ''),
);
