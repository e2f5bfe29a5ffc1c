import { stepDeps } from '../../src/adapters/deps';
import { stepHandler } from '../../src/payin/step-handler';
import { finalize } from '../../src/payin/steps';

export const handler = stepHandler('Finalize', ({ payment_id }) => finalize(stepDeps(), payment_id));
