import '../../src/payin/with-psp';
import { stepHandler } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { charge } from '../../src/payin/steps';

export const handler = stepHandler('Charge', ({ payment_id }) => charge(stepDeps(), payment_id));
