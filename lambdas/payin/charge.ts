import { stepDeps } from '../../src/adapters/deps';
import { stepHandler } from '../../src/payin/step-handler';
import { charge } from '../../src/payin/steps';

export const handler = stepHandler('Charge', ({ payment_id }) => charge(stepDeps(), payment_id));
